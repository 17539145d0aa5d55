"""APN's attribute prototypes over ViT patch tokens as an mmpretrain head (docs/apn.md)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

# imported for their registration (the losses package lists them too)
from ..losses.attribute_regression_loss import AttributeRegressionLoss  # noqa: F401
from ..losses.compactness_loss import AttributeCompactnessLoss  # noqa: F401
from ..losses.prototype_decorrelation_loss import PrototypeDecorrelationLoss  # noqa: F401
from ..utils.arrays import ArrayLike
from ..utils.choices import check_choice
from .semantic_attribute_head import tokens_to_patch_grid
from .zsl_head import ZSLHeadMixin, tokens_to_maps, write_predictions

BRANCHES = ('global', 'local')


@MODELS.register_module()
class APNHead(ZSLHeadMixin, ClsHead):
    """Attribute Prototype Network (Xu et al., NeurIPS 2020) on the patch tokens of a ViT.

    Shapes (B images, N = h * w patch tokens of width D, K attributes, C classes, S seen):

    - patch tokens X [B, N, D], from a feature map [B, D, h, w] (``out_type='featmap'``) or
      tokens [B, P + N, D] (``out_type='raw'``, P leading tokens such as CLS; see
      :func:`tokens_to_patch_grid`);
    - prototypes W [K, D] (global branch, ``global_prototypes``) and P [K, D] (local branch,
      ``local_prototypes``), both parameters;
    - attribute maps ``X W^T`` and ``X P^T`` [B, N, K] (:meth:`branch_outputs`; as
      [B, K, h, w] maps on the patch grid from :meth:`attribute_maps`);
    - a_glob [B, K]: the global maps pooled over N by ``global_pooling`` (max: CUB, mean:
      AwA2 / SUN in the released scripts); a_loc [B, K]: the local maps pooled by
      ``local_pooling`` (max, as released);
    - class scores ``scale * a A^T`` against the L2-normalised class attribute vectors A of
      the class table: [B, S] over the seen classes in training, [B, C] over all classes at
      inference, which uses the global branch alone (:meth:`score_classes` scores any
      class table the same way).

    The ZSL head interface (docs/interfaces.md) is :class:`ZSLHeadMixin`'s.

    Training losses (each a key of the returned dict, each already weighted):

    - ``loss_ce_global``, ``loss_ce_local``: class cross-entropy of each branch over the seen
      classes, times ``global_ce_weight`` / ``local_ce_weight`` (``loss`` is the
      cross-entropy module). ``ce_form='logits'`` (default) is the cross-entropy of the class
      scores, as the paper writes it; ``ce_form='softmax_twice'`` reproduces the released
      code, which feeds the softmax of the scores to ``CrossEntropyLoss`` (a second softmax);
    - ``loss_regression_global``, ``loss_regression_local``: :class:`AttributeRegressionLoss`
      of a_glob and a_loc against A[y];
    - ``loss_decorrelation_global``, ``loss_decorrelation_local``:
      :class:`PrototypeDecorrelationLoss` on W and P over the class table's attribute groups;
    - ``loss_compactness``: :class:`AttributeCompactnessLoss` on the local maps.

    A term whose ``loss_weight`` is 0 is not computed and has no key. ``train_acc`` (global
    branch, seen classes, percent) is logged, not optimised.

    The default weights are those of the released CUB GZSL script (``script/CUB_GZSL.sh`` of
    ``wenjiaXu/APN-ZSL``): CE 1 and 1, regression 1e-2 (global) and 1e-1 (local),
    decorrelation 5e-5 (W) and 4e-2 (P), compactness 1e-9.

    Departures from the published method (docs/apn.md lists them with the configs'):

    - ViT patch tokens (e.g. ViT-B/16 at 224 px: a 14 x 14 grid, D = 768, after the ViT's
      final LayerNorm, so of either sign) replace the ResNet-101 layer-4 regions (7 x 7 at
      224 px, D = 2048, after a ReLU); the compactness sum therefore runs over 196 rather than
      49 positions at larger distances, with the released weights unchanged;
    - the image size is the config's: the released 224 px on the real datasets' configs, the
      synthetic benchmark's 64 px (an 8 x 8 grid of 8 px patches) on the synthetic ones;
    - the whole ViT is fine-tuned after the prototype-only epochs (the released code keeps
      the ResNet's stem and first block frozen), and it is not first fine-tuned on the seen
      classes as the released CUB and SUN ResNets were;
    - the cross-entropy is the paper's (on the class scores) by default, the released double
      softmax is ``ce_form='softmax_twice'``;
    - compactness is a training loss in every epoch; the released code adds it only after its
      prototype-only epochs (the head does not know the epoch; the released weight is 1e-9);
    - the decorrelation groups are the class table's (the dataset's ``attribute_groups``),
      each once; the released CUB run reads 8 body-part groups from a file outside its
      repository and, through ``parts[:7]``, counts one group twice and leaves one out;
    - the class attribute vectors are normalised by (L2 norm + 1e-5) (svip_mm's class table),
      the released code uses xlsa17's L2-normalised ``att`` as it is.

    Args:
        num_attributes: K.
        in_channels: D, the width of the patch tokens.
        num_classes: C, seen and unseen classes.
        global_pooling: ``'max'`` or ``'mean'`` over the N positions for a_glob.
        local_pooling: ``'max'`` (released) or ``'mean'`` for a_loc.
        scale: multiplies the class scores (the released code has none: 1).
        ce_form: ``'logits'`` (paper, default) or ``'softmax_twice'`` (released).
        global_ce_weight: weight of the global branch's cross-entropy (released ``--xe``).
        local_ce_weight: weight of the local branch's cross-entropy (released ``--l_xe``).
        global_regression: config of the :class:`AttributeRegressionLoss` of a_glob
            (released ``--attri``).
        local_regression: the same for a_loc (released ``--l_attri``).
        global_decorrelation: config of the :class:`PrototypeDecorrelationLoss` of W
            (released ``--regular``).
        local_decorrelation: the same for P (released ``--l_regular``).
        compactness: config of the :class:`AttributeCompactnessLoss` of the local maps
            (released ``--cpt``).
        prototype_init_scale: prototypes start uniform in [0, prototype_init_scale) (the
            released 2e-4).
        class_attributes: optional [C, K] class attribute matrix (array or ``.npy`` path);
            the ZSL hook sets the class table from the dataset (:class:`ClassTableMixin`).
        seen_classes: global ids of the seen classes (with ``class_attributes``).
        attribute_group_ids: optional [K] group index per attribute (negative: no group).
        num_prefix_tokens: leading non-patch tokens of ``out_type='raw'`` input (1 for a CLS
            token); None guesses (see :func:`tokens_to_patch_grid`).
        loss: the cross-entropy module (mmpretrain config).
        init_cfg: MMEngine init config.
    """

    def __init__(self,
                 num_attributes: int,
                 in_channels: int,
                 num_classes: int,
                 global_pooling: str = 'max',
                 local_pooling: str = 'max',
                 scale: float = 1.0,
                 ce_form: str = 'logits',
                 global_ce_weight: float = 1.0,
                 local_ce_weight: float = 1.0,
                 global_regression: dict = dict(type='AttributeRegressionLoss',
                                                loss_weight=1e-2),
                 local_regression: dict = dict(type='AttributeRegressionLoss', loss_weight=1e-1),
                 global_decorrelation: dict = dict(type='PrototypeDecorrelationLoss',
                                                   loss_weight=5e-5),
                 local_decorrelation: dict = dict(type='PrototypeDecorrelationLoss',
                                                  loss_weight=4e-2),
                 compactness: dict = dict(type='AttributeCompactnessLoss', loss_weight=1e-9),
                 prototype_init_scale: float = 2e-4,
                 class_attributes: Optional[ArrayLike] = None,
                 seen_classes: Optional[Sequence[int]] = None,
                 attribute_group_ids: Optional[ArrayLike] = None,
                 num_prefix_tokens: Optional[int] = None,
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None):
        super().__init__(loss=loss, init_cfg=init_cfg)
        check_choice('global_pooling', global_pooling, ('max', 'mean'))
        check_choice('local_pooling', local_pooling, ('max', 'mean'))
        check_choice('ce_form', ce_form, ('logits', 'softmax_twice'))
        for name, value in (('num_attributes', num_attributes), ('in_channels', in_channels),
                            ('num_classes', num_classes)):
            if int(value) < 1:
                raise ValueError(f'{name} must be a positive integer, got {value!r}')
        if prototype_init_scale < 0:
            raise ValueError(f'prototype_init_scale must be >= 0, got {prototype_init_scale}')
        self.in_channels = in_channels
        self.pooling = dict(zip(BRANCHES, (global_pooling, local_pooling)))
        self.scale, self.ce_form = scale, ce_form
        self.ce_weights = dict(zip(BRANCHES, (global_ce_weight, local_ce_weight)))
        self.prototype_init_scale = prototype_init_scale
        self.global_prototypes = nn.Parameter(
            prototype_init_scale * torch.rand(num_attributes, in_channels))
        self.local_prototypes = nn.Parameter(
            prototype_init_scale * torch.rand(num_attributes, in_channels))
        self.regression = nn.ModuleDict({'global': MODELS.build(global_regression),
                                         'local': MODELS.build(local_regression)})
        self.decorrelation = nn.ModuleDict({'global': MODELS.build(global_decorrelation),
                                            'local': MODELS.build(local_decorrelation)})
        self.compactness = MODELS.build(compactness)
        self.num_prefix_tokens = num_prefix_tokens
        self._init_class_table(num_classes, num_attributes, class_attributes, seen_classes,
                               attribute_group_ids)

    # ------------------------------------------------------------ computation
    def prototypes(self, branch: str) -> nn.Parameter:
        """W [K, D] (``'global'``) or P [K, D] (``'local'``)."""
        check_choice('branch', branch, BRANCHES)
        return self.global_prototypes if branch == 'global' else self.local_prototypes

    def patch_tokens(self, feats: Tuple[torch.Tensor]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Backbone outputs (the last is used) -> ([B, N, D] patch tokens, (h, w))."""
        tokens, grid = tokens_to_patch_grid(feats[-1], self.num_prefix_tokens)
        if tokens.shape[-1] != self.in_channels:
            raise ValueError(f'the patch tokens have width {tokens.shape[-1]}; expected '
                             f'in_channels = {self.in_channels}')
        return tokens, grid

    def attribute_maps(self, feats: Tuple[torch.Tensor], branch: str = 'local') -> torch.Tensor:
        """Per-patch attribute maps [B, K, h, w] on the patch grid of :meth:`patch_tokens`
        (the ZSL head interface): ``X P^T`` of the local branch (default, the branch APN
        localises attributes with) or ``X W^T`` of the global one (``branch='global'``)."""
        tokens, grid = self.patch_tokens(feats)
        return tokens_to_maps(self._maps(tokens, branch), grid)

    def _maps(self, tokens: torch.Tensor, branch: str) -> torch.Tensor:
        return tokens @ self.prototypes(branch).to(tokens.dtype).t()

    def _pool(self, maps: torch.Tensor, branch: str) -> torch.Tensor:
        return maps.amax(1) if self.pooling[branch] == 'max' else maps.mean(1)

    def branch_outputs(self, feats: Tuple[torch.Tensor]) -> Dict[str, object]:
        """Both branches at once: ``global_maps`` and ``local_maps`` [B, N, K],
        ``global_attributes`` (a_glob) and ``local_attributes`` (a_loc) [B, K], ``grid``."""
        tokens, grid = self.patch_tokens(feats)
        out: Dict[str, object] = dict(grid=grid)
        for branch in BRANCHES:
            maps = self._maps(tokens, branch)
            out[f'{branch}_maps'] = maps
            out[f'{branch}_attributes'] = self._pool(maps, branch)
        return out

    def class_logits(self, attributes: torch.Tensor, classes: str = 'seen') -> torch.Tensor:
        """[B, K] attributes -> [B, C'] class scores ``scale * a A^T`` over the seen
        (``'seen'``) or all (``'all'``) classes."""
        return self.score_classes(attributes, self.class_rows(classes))

    def score_classes(self, attributes: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """[B, K] attributes (a_glob at inference), [C', K] normalised rows of any class
        table -> [B, C'] class scores ``scale * a A^T`` (the ZSL head interface; no bias)."""
        return self.scale * (attributes @ rows.to(attributes.dtype).t())

    def _class_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        scores = logits.float()
        if self.ce_form == 'softmax_twice':
            scores = F.softmax(scores, dim=1)
        return self.loss_module(scores, target, avg_factor=scores.size(0))

    def losses_from(self, outputs: Dict[str, object],
                    data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """The weighted loss terms (see the class docstring) from :meth:`branch_outputs`."""
        target = self.seen_targets(data_samples)  # [B] positions among the seen classes
        class_targets = self.class_rows('seen').index_select(0, target)  # A[y] [B, K]
        losses: Dict[str, torch.Tensor] = {}
        for branch in BRANCHES:
            attributes = outputs[f'{branch}_attributes']
            if self.ce_weights[branch] != 0:
                logits = self.class_logits(attributes, 'seen')
                losses[f'loss_ce_{branch}'] = \
                    self.ce_weights[branch] * self._class_loss(logits, target)
                if branch == 'global':
                    with torch.no_grad():
                        losses['train_acc'] = (logits.argmax(1) == target).float().mean() * 100
            if self.regression[branch].loss_weight != 0:
                losses[f'loss_regression_{branch}'] = self.regression[branch](attributes,
                                                                            class_targets)
            if self.decorrelation[branch].loss_weight != 0:
                losses[f'loss_decorrelation_{branch}'] = self.decorrelation[branch](
                    self.prototypes(branch), self.attribute_group_ids)
        if self.compactness.loss_weight != 0:
            losses['loss_compactness'] = self.compactness(outputs['local_maps'],
                                                          outputs['grid'])
        return losses

    def predictions(self, attributes: torch.Tensor,
                    data_samples: Optional[List[Optional[DataSample]]] = None
                    ) -> List[DataSample]:
        """Put the global branch's results on each DataSample: ``pred_score`` (softmax over
        all C classes), ``pred_label`` and ``pred_attributes`` [K] (a_glob)."""
        return write_predictions(self.class_logits(attributes, 'all'), attributes, data_samples)

    # ------------------------------------------------------------ ClsHead API
    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """a_glob [B, K], the global branch's pooled attribute scores."""
        tokens, _ = self.patch_tokens(feats)
        return self._pool(self._maps(tokens, 'global'), 'global')

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """a_glob [B, K] (mmpretrain's "tensor" mode of ``ImageClassifier``)."""
        return self.pre_logits(feats)

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        return self.losses_from(self.branch_outputs(feats), data_samples)

    def predict(self, feats: Tuple[torch.Tensor],
                data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
        return self.predictions(self.pre_logits(feats), data_samples)
