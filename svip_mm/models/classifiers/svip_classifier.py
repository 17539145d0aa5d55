"""The SVIP classifier: a two-pass training step and a one-pass prediction
(docs/method.md, section 4)."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.classifiers import BaseClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import patches_to_units
from ..utils.choices import check_choice
from .interfaces import SVIPBackbone, SVIPHead, SVIPSelectorNeck, check_interface
from .keep_sets import LearnedKeepSets
from .oracle_keep_sets import OracleKeepSets

SELECTIONS = ('learned', 'oracle')


@MODELS.register_module()
class SVIPClassifier(BaseClassifier):
    """SVIP: select patches at the input, contextualise the rest, classify by attributes.

    The parts must offer the interfaces of docs/interfaces.md: the backbone
    :class:`~svip_mm.models.classifiers.SVIPBackbone`, the neck
    :class:`~svip_mm.models.classifiers.SVIPSelectorNeck`, the head
    :class:`~svip_mm.models.classifiers.SVIPHead` (a ZSL head that scores units). They are
    checked when the model is built: a part that lacks a member raises a ``TypeError``
    naming its class, the members and the interface.

    Args:
        backbone: a :class:`SVIPVisionTransformer` config (or another
            :class:`~svip_mm.models.classifiers.SVIPBackbone`; a built module is taken as it is).
        neck: a :class:`SemanticPatchSelector` config (or module).
        head: a :class:`SemanticAttributeHead` config (or module).
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
                 backbone: Union[dict, nn.Module],
                 neck: Union[dict, nn.Module],
                 head: Union[dict, nn.Module],
                 consistency: dict = dict(type='SVIPConsistencyLoss', mode='kl'),
                 predict_attention: bool = False,
                 selection: str = 'learned',
                 oracle_min_fraction: float = 0.1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = dict(data_preprocessor or {})
        data_preprocessor.setdefault('type', 'mmpretrain.ClsDataPreprocessor')
        super().__init__(init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        # built modules are taken as they are (as mmpretrain's ImageClassifier does)
        self.backbone, self.neck, self.head = (
            part if isinstance(part, nn.Module) else MODELS.build(part)
            for part in (backbone, neck, head))
        for role, part, interface in (('backbone', self.backbone, SVIPBackbone),
                                      ('neck', self.neck, SVIPSelectorNeck),
                                      ('head', self.head, SVIPHead)):
            check_interface(part, interface, role, type(self).__name__)
        self.consistency = MODELS.build(consistency)
        self.predict_attention = predict_attention
        check_choice('selection', selection, SELECTIONS)
        self.selection, self.oracle_min_fraction = selection, float(oracle_min_fraction)
        # the keep-set rule: the method's, or the oracle ablation's from ground-truth masks
        self.keep_sets = (OracleKeepSets(self.oracle_min_fraction, self.head.unit_size)
                          if selection == 'oracle' else LearnedKeepSets())
        if getattr(self.head, 'num_prefix_tokens', 0) is None:  # tell the head, not guess
            self.head.num_prefix_tokens = self.backbone.num_prefix_tokens
        self._check_parts_agree()

    def _check_parts_agree(self) -> None:
        """The neck, the head and the backbone must agree on units, attributes and width."""
        neck, head, width = self.neck, self.head, self.backbone.embed_dims
        if neck.unit_size != head.unit_size:
            raise ValueError(f'neck unit_size={neck.unit_size} differs from head '
                             f'unit_size={head.unit_size}')
        if neck.num_attributes != head.num_attributes:
            raise ValueError(f'neck num_attributes={neck.num_attributes} differs from head '
                             f'num_attributes={head.num_attributes}')
        for name, module in (('neck', neck), ('head', head)):
            if module.in_channels != width:
                raise ValueError(f'{name} in_channels={module.in_channels} differs from the '
                                 f'backbone width embed_dims={width}')

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

        # source pass: full image -> keep set and selector labels (SVIP: from its attention)
        src_tokens, keep_src = self.keep_sets.source(self.backbone, neck, patches, grid,
                                                     data_samples)
        a_src = head.attribute_scores(self._units(src_tokens, grid), keep_src)

        # target pass: context token on the units the source pass did not keep
        tgt_tokens, _ = self.backbone.encode(neck.contextualise(patches, keep_src, grid), grid)
        tgt_units = self._units(tgt_tokens, grid)
        # re-selection around a prototype pooled as the head pools (max with pooling='max')
        keep_tgt = self.keep_sets.target(tgt_units, keep_src, k, head.pooling)
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
        keep = self.keep_sets.inference(self.neck, logits, grid, data_samples)
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
        """[B, U] bool oracle keep set from the samples' ``gt_fg_mask`` (see
        :meth:`OracleKeepSets.keep`), with this model's ``oracle_min_fraction``."""
        return OracleKeepSets(self.oracle_min_fraction, self.head.unit_size).keep(
            data_samples, grid, device)

    def _units(self, tokens: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """[B, P + h*w, C] tokens (P = the backbone's prefix tokens, its CLS) -> [B, U, u*u*C]
        units of the final patch tokens."""
        patches = tokens[:, self.backbone.num_prefix_tokens:]
        return patches_to_units(patches, grid, self.head.unit_size)
