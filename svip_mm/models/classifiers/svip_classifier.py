"""The SVIP classifier: a two-pass training step and a one-pass prediction (spec, section 4)."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.classifiers import BaseClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import check_unit_grid, patches_to_units, topk_mask

SELECTIONS = ('learned', 'oracle')


def reselect_by_prototype(units: torch.Tensor, k: int, pooling: str = 'mean') -> torch.Tensor:
    """[B, U, D] final units -> [B, U] bool mask of the k units most similar (dot product)
    to the image's prototype unit: the target pass's re-selection.

    The prototype pools the units as the head does (the released code uses its pooling
    layer): ``'mean'`` (the mean unit) or ``'max'`` (the element-wise max over units)."""
    if pooling not in ('mean', 'max'):
        raise ValueError(f"pooling must be 'mean' or 'max', got {pooling!r}")
    with torch.no_grad():
        proto = (units.mean(dim=1, keepdim=True) if pooling == 'mean' else
                 units.amax(dim=1, keepdim=True))
        sim = (units * proto).sum(-1)
        return topk_mask(sim, k, largest=True)


@MODELS.register_module()
class SVIPClassifier(BaseClassifier):
    """SVIP: select patches at the input, contextualise the rest, classify by attributes.

    Args:
        backbone: a :class:`SVIPVisionTransformer` config (needs ``embed`` / ``encode``).
        neck: a :class:`SemanticPatchSelector` config.
        head: a :class:`SemanticAttributeHead` config.
        consistency: config of :class:`SVIPConsistencyLoss`.
        predict_attention: in ``predict``, also run the source pass (full image, attention of
            all layers) and put its per-unit aggregated attention on each sample as
            ``attention_unit_scores`` — the labels the selector is trained on, for measuring
            selection quality and for visualisation. Costs one more forward pass.
        selection: ``'learned'`` (SVIP: keep sets from attention in training, from the
            selector at inference) or ``'oracle'`` (the upper bound of the ablation: in
            training and at inference the keep set is every unit whose ground-truth
            foreground fraction is at least ``oracle_min_fraction``, read from the samples'
            ``gt_fg_mask``; the selector is trained on these labels and the target pass pools
            over the same set). Oracle runs need ``LoadForegroundMask`` in both pipelines.
        oracle_min_fraction: see ``selection``; 0.1 = the background threshold of
            :class:`~svip_mm.evaluation.PatchSelectionMetric`.
        data_preprocessor: defaults to mmpretrain's ``ClsDataPreprocessor``.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 consistency: dict = dict(type='SVIPConsistencyLoss', mode='kl'),
                 predict_attention: bool = False,
                 selection: str = 'learned',
                 oracle_min_fraction: float = 0.1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.head = MODELS.build(head)
        self.consistency = MODELS.build(consistency)
        self.predict_attention = predict_attention
        if selection not in SELECTIONS:
            raise ValueError(f'selection must be one of {SELECTIONS}, got {selection!r}')
        self.selection, self.oracle_min_fraction = selection, float(oracle_min_fraction)
        if self.neck.unit_size != self.head.unit_size:
            raise ValueError(f'neck unit_size={self.neck.unit_size} differs from head '
                             f'unit_size={self.head.unit_size}')

    # ------------------------------------------------------------ modes
    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.infer(inputs, data_samples=data_samples)[0]
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def extract_feat(self, inputs: torch.Tensor) -> Tuple[torch.Tensor]:
        """Plain backbone features (no selection), as mmpretrain classifiers provide."""
        return self.backbone(inputs)

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """The two-pass training step. Returns ``loss_*`` terms (summed by MMEngine) and
        accuracies (only logged)."""
        neck, head, k = self.neck, self.head, self.neck.keep_k
        patches, grid = self.backbone.embed(inputs)
        unrelated_logits = neck.selector_logits(patches, grid)

        # source pass: full image, attention of all layers -> keep set and selector labels
        if self.selection == 'oracle':
            keep_src = self.oracle_keep(data_samples, grid, patches.device)
            src_tokens, _ = self.backbone.encode(patches, grid)
        else:
            src_tokens, maps = self.backbone.encode(patches, grid, return_attn=True)
            keep_src = neck.keep_from_attention(
                neck.attention_unit_scores(maps, grid, self.backbone.num_heads))
        a_src = head.attribute_scores(self._units(src_tokens, grid), keep_src)

        # target pass: context token on the units the source pass did not keep
        tgt_tokens, _ = self.backbone.encode(neck.contextualise(patches, keep_src, grid), grid)
        tgt_units = self._units(tgt_tokens, grid)
        # re-selection around a prototype pooled as the head pools (max with pooling='max')
        keep_tgt = (keep_src if self.selection == 'oracle' else
                    reselect_by_prototype(tgt_units, k, head.pooling))
        a_tgt = head.attribute_scores(tgt_units, keep_tgt)

        losses = neck.loss(unrelated_logits, keep_src)
        losses.update(head.attribute_losses(a_src, data_samples, '_src', decorrelate=False))
        losses.update(head.attribute_losses(a_tgt, data_samples, '_tgt', decorrelate=True))
        losses['loss_consistency'] = self.consistency(head.similarity(a_src, 'seen'),
                                                      head.similarity(a_tgt, 'seen'))
        return losses

    def infer(self, inputs: torch.Tensor, with_details: bool = False,
              data_samples: Optional[List[DataSample]] = None
              ) -> Tuple[torch.Tensor, torch.Tensor]:
        """One inference pass: selector keep set -> context token -> encode -> head.

        ``data_samples`` are needed only with ``selection='oracle'`` (their masks give the
        keep set).

        Returns:
            attribute scores [B, K] and the keep mask [B, U]; with ``with_details`` also a
            dict with ``selector_prob`` [B, U] (probability of "semantic-unrelated").
        """
        patches, grid = self.backbone.embed(inputs)
        logits = self.neck.selector_logits(patches, grid)
        if self.selection == 'oracle':
            keep = self.oracle_keep(data_samples, grid, patches.device)
        else:
            keep = self.neck.keep_from_selector(logits)
        tokens, _ = self.backbone.encode(self.neck.contextualise(patches, keep, grid), grid)
        pool_mask = keep if self.head.eval_units == 'kept' else None
        attributes = self.head.attribute_scores(self._units(tokens, grid), pool_mask)
        if not with_details:
            return attributes, keep
        details = dict(selector_prob=logits.float().sigmoid())
        if self.predict_attention:
            _, maps = self.backbone.encode(patches, grid, return_attn=True)
            details['attention_unit_scores'] = self.neck.attention_unit_scores(
                maps, grid, self.backbone.num_heads)
        return attributes, keep, details

    def predict(self, inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        """Class scores over all classes, attribute vector, keep mask, the selector's
        per-unit probability (``selector_prob``) and, with ``predict_attention``, the
        source pass's ``attention_unit_scores`` on each sample."""
        attributes, keep, details = self.infer(inputs, with_details=True,
                                               data_samples=data_samples)
        samples = self.head.predictions(attributes, data_samples, keep)
        for i, sample in enumerate(samples):
            for key, value in details.items():
                sample.set_field(value[i], key, field_type='data')
        return samples

    def oracle_keep(self, data_samples: Optional[List[DataSample]], grid: Tuple[int, int],
                    device: torch.device) -> torch.Tensor:
        """[B, U] bool keep set from the samples' ground-truth masks (``gt_fg_mask`` [H, W]):
        units with a foreground fraction of at least ``oracle_min_fraction``, and always the
        unit with the most foreground."""
        masks = [None if s is None else s.get('gt_fg_mask') for s in (data_samples or [None])]
        if any(m is None for m in masks):
            raise ValueError("selection='oracle' needs a ground-truth mask 'gt_fg_mask' on "
                             "every sample: add dict(type='LoadForegroundMask') to the train "
                             "and test pipelines and 'gt_fg_mask' to PackInputs.algorithm_keys")
        masks = torch.stack([torch.as_tensor(m) for m in masks]).to(device, torch.float32)
        units = check_unit_grid(grid, self.head.unit_size)
        # block means: equal to PatchSelectionMetric's unit fractions when H, W divide evenly
        fraction = F.adaptive_avg_pool2d(masks.unsqueeze(1), units).flatten(1)  # [B, U]
        keep = fraction >= self.oracle_min_fraction
        return keep | (fraction == fraction.amax(dim=1, keepdim=True))

    def _units(self, tokens: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """[B, 1 + h*w, C] tokens -> [B, U, u*u*C] units of the final patch tokens."""
        return patches_to_units(tokens[:, 1:], grid, self.head.unit_size)
