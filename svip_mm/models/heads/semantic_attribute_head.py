"""Attribute head: units -> attribute scores -> class scores (docs/method.md, sections 4 and 5)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import check_unit_grid, patches_to_units
from ..utils.arrays import ArrayLike
from ..utils.choices import check_choice
from .zsl_head import ZSLHeadMixin, tokens_to_maps, write_predictions


def tokens_to_patch_grid(feat: torch.Tensor, num_prefix_tokens: Optional[int] = None
                         ) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """Backbone output -> ([B, h*w, C] patch tokens, (h, w)).

    Accepts a feature map [B, C, h, w] (mmpretrain ``out_type='featmap'``) or tokens
    [B, P + h*w, C] on a square grid (``out_type='raw'``) after ``num_prefix_tokens`` = P
    leading tokens (CLS and the like). The backbone knows P (``num_prefix_tokens`` of
    :class:`SVIPVisionTransformer`); when it is not given, P is 1 if the rest is a square
    grid and else 0, a guess that cannot tell a CLS token from a grid that happens to fit.
    """
    if feat.ndim == 4:
        b, c, h, w = feat.shape
        return feat.flatten(2).transpose(1, 2), (h, w)
    if feat.ndim == 3:
        n = feat.shape[1]
        for prefix in ((1, 0) if num_prefix_tokens is None else (num_prefix_tokens, )):
            side = int(round(max(n - prefix, 0) ** 0.5))
            if side > 0 and side * side == n - prefix:
                return feat[:, prefix:], (side, side)
    prefix = '(1+)' if num_prefix_tokens is None else f'({num_prefix_tokens}+)'
    raise ValueError('the attribute head needs patch tokens: a feature map [B, C, h, w] or '
                     f'tokens [B, {prefix} h*w, C] on a square grid; got shape '
                     f'{tuple(feat.shape)}')


@MODELS.register_module()
class SemanticAttributeHead(ZSLHeadMixin, ClsHead):
    """Maps each unit to K attribute scores, pools them, and scores classes by attributes.

    Class logits are ``scale * sim(a, A_c)`` against class attribute vectors A_c that are
    L2-normalised per class: seen classes only in training, all classes at test. The class
    attribute matrix, the seen-class mask and the attribute groups are buffers, so they
    travel with checkpoints. Works on its own behind mmpretrain's ``ImageClassifier`` (with
    a ViT whose ``out_type`` is ``'featmap'`` or ``'raw'``).

    Args:
        num_attributes: K.
        in_channels: C of the patch tokens.
        num_classes: all classes, seen and unseen.
        unit_size: u; the head's input unit is u*u patch tokens (u*u*C values).
        pooling: ``'mean'`` (official, default) or ``'max'`` (paper) over units.
        similarity: ``'dot'`` (official: a not normalised, default) or ``'cosine'`` (paper).
        scale: logit scale (5).
        class_attributes: optional [num_classes, K] matrix (array or ``.npy`` path); can also
            be set later with :meth:`set_class_attributes` (e.g. from dataset metainfo).
        seen_classes: global ids of the seen classes (with ``class_attributes``).
        attribute_group_ids: optional [K] group index per attribute (for decorrelation).
        eval_units: units used at inference: ``'all'`` (official) or ``'kept'`` (paper; only
            when a keep mask is passed, as :class:`SVIPClassifier` does).
        loss: the classification loss on seen-class logits.
        decorrelation: config of :class:`AttributeDecorrelationLoss` (weight 0 disables it).
        num_prefix_tokens: leading non-patch tokens of ``out_type='raw'`` backbone output
            (1 for a CLS token); None guesses (see :func:`tokens_to_patch_grid`).
            :class:`SVIPClassifier` sets it from its backbone.

    The class table (``class_attributes``, ``seen_mask``, ``attribute_group_ids``, the
    seen-class targets) is :class:`ClassTableMixin`'s; the ZSL head interface
    (:meth:`score_classes`, :meth:`attribute_maps` on the unit grid, ``predict``) is
    :class:`ZSLHeadMixin`'s (docs/interfaces.md). Inside :class:`SVIPClassifier` the head
    also serves the SVIP head interface (``unit_size``, ``pooling``, ``eval_units``,
    :meth:`attribute_scores`, :meth:`attribute_losses`, :meth:`similarity`,
    :meth:`predictions`; :class:`~svip_mm.models.classifiers.SVIPHead`).
    """
    def __init__(self,
                 num_attributes: int,
                 in_channels: int,
                 num_classes: int,
                 unit_size: int = 2,
                 pooling: str = 'mean',
                 similarity: str = 'dot',
                 scale: float = 5.0,
                 class_attributes: Optional[ArrayLike] = None,
                 seen_classes: Optional[Sequence[int]] = None,
                 attribute_group_ids: Optional[ArrayLike] = None,
                 eval_units: str = 'all',
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 decorrelation: dict = dict(type='AttributeDecorrelationLoss', loss_weight=0.0),
                 num_prefix_tokens: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(loss=loss, init_cfg=init_cfg)
        check_choice('pooling', pooling, ('mean', 'max'))
        check_choice('similarity', similarity, ('dot', 'cosine'))
        check_choice('eval_units', eval_units, ('all', 'kept'))
        self.in_channels = in_channels
        self.unit_size, self.pooling, self.similarity_type = unit_size, pooling, similarity
        self.scale, self.eval_units = scale, eval_units
        self.fc = nn.Linear(unit_size * unit_size * in_channels, num_attributes)
        self.decorrelation = MODELS.build(decorrelation)
        self.num_prefix_tokens = num_prefix_tokens
        self._init_class_table(num_classes, num_attributes, class_attributes, seen_classes,
                               attribute_group_ids)

    # ------------------------------------------------------------ computation
    def unit_features(self, feat: torch.Tensor) -> torch.Tensor:
        """Backbone patch tokens (see :func:`tokens_to_patch_grid`) -> [B, U, u*u*C] units."""
        patches, grid = tokens_to_patch_grid(feat, self.num_prefix_tokens)
        return patches_to_units(patches, grid, self.unit_size)

    def attribute_scores(self, units: torch.Tensor,
                         keep: Optional[torch.Tensor] = None) -> torch.Tensor:
        """[B, U, u*u*C] units (+ optional [B, U] bool keep mask) -> [B, K] pooled scores."""
        scores = self.fc(units)  # [B, U, K]
        if keep is None:
            return scores.mean(1) if self.pooling == 'mean' else scores.amax(1)
        mask = keep.unsqueeze(-1)
        if self.pooling == 'mean':
            return (scores * mask).sum(1) / mask.sum(1).clamp(min=1)
        return scores.masked_fill(~mask, float('-inf')).amax(1)

    def similarity(self, attributes: torch.Tensor, classes: str = 'seen') -> torch.Tensor:
        """[B, K] -> [B, C'] unscaled similarity to seen (``'seen'``) or all classes."""
        return self.similarity_to(attributes, self.class_rows(classes))

    def similarity_to(self, attributes: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """[B, K] attributes, [C', K] normalised class attribute vectors (any table, e.g. an
        inferencer's) -> [B, C'] unscaled similarity (``dot`` or ``cosine``)."""
        rows = rows.to(attributes.dtype)
        if self.similarity_type == 'cosine':
            attributes = F.normalize(attributes, dim=-1)
        return attributes @ rows.t()

    def class_logits(self, attributes: torch.Tensor, classes: str = 'seen') -> torch.Tensor:
        """[B, K] -> [B, C'] logits ``scale * sim`` over seen or all classes."""
        return self.scale * self.similarity(attributes, classes)

    def score_classes(self, attributes: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """[B, K] attributes, [C', K] normalised rows of any class table -> [B, C'] logits
        ``scale * sim`` (the ZSL head interface; no test-time bias)."""
        return self.scale * self.similarity_to(attributes, rows)

    def attribute_maps(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """[B, K, h/u, w/u]: each unit's attribute scores ``fc(unit)`` before pooling, on the
        unit grid (a cell covers u x u patches) of the last feature's patch grid h x w.

        The units are those of the plain backbone output (``feats``); inside
        :class:`SVIPClassifier` the head pools the units of the contextualised pass instead."""
        patches, grid = tokens_to_patch_grid(feats[-1], self.num_prefix_tokens)
        units = patches_to_units(patches, grid, self.unit_size)
        return tokens_to_maps(self.fc(units), check_unit_grid(grid, self.unit_size))

    def attribute_losses(self, attributes: torch.Tensor, data_samples: List[DataSample],
                         suffix: str = '', decorrelate: bool = True) -> Dict[str, torch.Tensor]:
        """Seen-class CE (``loss_ce{suffix}``) and, if asked, ``loss_decorrelation``."""
        logits = self.class_logits(attributes, 'seen').float()
        target = self.seen_targets(data_samples)
        losses = {f'loss_ce{suffix}': self.loss_module(logits, target,
                                                       avg_factor=logits.size(0))}
        with torch.no_grad():
            losses[f'train_acc{suffix}'] = (logits.argmax(1) == target).float().mean() * 100
        if decorrelate:
            losses['loss_decorrelation'] = self.decorrelation(attributes,
                                                              self.attribute_group_ids)
        return losses

    def predictions(self, attributes: torch.Tensor,
                    data_samples: Optional[List[Optional[DataSample]]] = None,
                    keep: Optional[torch.Tensor] = None) -> List[DataSample]:
        """Put class scores over all classes, the attribute vector and the keep mask on
        each DataSample (``pred_score`` softmax [C], ``pred_label``, ``pred_attributes`` [K],
        ``keep_mask`` [U])."""
        out = write_predictions(self.class_logits(attributes, 'all'), attributes, data_samples)
        if keep is not None:
            for i, sample in enumerate(out):
                sample.set_field(keep[i], 'keep_mask', field_type='data')
        return out

    # ------------------------------------------------------------ ClsHead API
    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Pooled attribute scores [B, K] over all units of the last feature."""
        return self.attribute_scores(self.unit_features(feats[-1]))

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """[B, K] attribute scores (mmpretrain's "tensor" mode of ``ImageClassifier``)."""
        return self.pre_logits(feats)

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        return self.attribute_losses(self.pre_logits(feats), data_samples)

    def predict(self, feats: Tuple[torch.Tensor],
                data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
        return self.predictions(self.pre_logits(feats), data_samples)
