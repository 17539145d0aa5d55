"""Attribute head: units -> attribute scores -> class scores (spec, sections 4 and 5)."""
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..utils import patches_to_units

ArrayLike = Union[str, os.PathLike, np.ndarray, torch.Tensor, list]


def _as_array(value: ArrayLike, what: str) -> np.ndarray:
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path!r} (expected a .npy array)')
        value = np.load(path, allow_pickle=False)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def tokens_to_patch_grid(feat: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
    """Backbone output -> ([B, h*w, C] patch tokens, (h, w)).

    Accepts a feature map [B, C, h, w] (mmpretrain ``out_type='featmap'``) or tokens
    [B, N, C] with or without one leading CLS token on a square grid (``out_type='raw'``).
    """
    if feat.ndim == 4:
        b, c, h, w = feat.shape
        return feat.flatten(2).transpose(1, 2), (h, w)
    if feat.ndim == 3:
        n = feat.shape[1]
        for prefix in (1, 0):
            side = int(round((n - prefix) ** 0.5))
            if side * side == n - prefix:
                return feat[:, prefix:], (side, side)
    raise ValueError('the attribute head needs patch tokens: a feature map [B, C, h, w] or '
                     f'tokens [B, (1+) h*w, C] on a square grid; got shape {tuple(feat.shape)}')


UNSEEN_LABELS = 'only seen classes may be used for training in zero-shot learning'


NEVER_SET = ('the class attribute matrix was never set: pass class_attributes and '
             'seen_classes, or call set_class_attributes() (the ZSL hook does it from the '
             'dataset metainfo)')


def _stamp(tensor: torch.Tensor) -> Optional[Tuple]:
    """Which tensor and which write of it: storage, version counter, device (None for an
    inference tensor, which has no version counter)."""
    try:
        return tensor.data_ptr(), tensor._version, tensor.device
    except RuntimeError:
        return None


@MODELS.register_module()
class SemanticAttributeHead(ClsHead):
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
    """
    # filled from the dataset by ZSLClassTableHook, so a checkpoint need not carry them
    CLASS_TABLE_BUFFERS = ('class_attributes', 'seen_mask', 'attribute_group_ids')

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
                 init_cfg: Optional[dict] = None):
        super().__init__(loss=loss, init_cfg=init_cfg)
        for name, value, allowed in [('pooling', pooling, ('mean', 'max')),
                                     ('similarity', similarity, ('dot', 'cosine')),
                                     ('eval_units', eval_units, ('all', 'kept'))]:
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
        self.num_attributes, self.num_classes = num_attributes, num_classes
        self.unit_size, self.pooling, self.similarity_type = unit_size, pooling, similarity
        self.scale, self.eval_units = scale, eval_units
        self.fc = nn.Linear(unit_size * unit_size * in_channels, num_attributes)
        self.decorrelation = MODELS.build(decorrelation)
        self.register_buffer('class_attributes', torch.zeros(num_classes, num_attributes))
        self.register_buffer('seen_mask', torch.zeros(num_classes, dtype=torch.bool))
        self.register_buffer('attribute_group_ids',
                             torch.full((num_attributes, ), -1, dtype=torch.long))
        # derived from seen_mask whenever it is set, so the training step needs no host
        # synchronisation; not saved (a checkpoint's seen_mask rebuilds them)
        self.register_buffer('seen_class_ids', torch.zeros(0, dtype=torch.long),
                             persistent=False)
        self.register_buffer('seen_class_position',
                             torch.full((num_classes, ), -1, dtype=torch.long), persistent=False)
        self._seen_stamp = None
        if class_attributes is not None:
            if seen_classes is None:
                raise ValueError('class_attributes given without seen_classes')
            self.set_class_attributes(class_attributes, seen_classes, attribute_group_ids)
        elif attribute_group_ids is not None:
            self.set_attribute_groups(attribute_group_ids)

    # ------------------------------------------------------------ class table
    def set_class_attributes(self, class_attributes: ArrayLike, seen_classes: Sequence[int],
                             attribute_group_ids: Optional[ArrayLike] = None) -> None:
        """Store the [num_classes, K] class attribute matrix (rows get L2-normalised)."""
        att = torch.as_tensor(_as_array(class_attributes, 'class attribute'), dtype=torch.float32)
        if tuple(att.shape) != (self.num_classes, self.num_attributes):
            raise ValueError(f'class attributes have shape {tuple(att.shape)}; expected '
                             f'[num_classes, num_attributes] = '
                             f'[{self.num_classes}, {self.num_attributes}]')
        seen = [int(i) for i in seen_classes]
        bad = [i for i in seen if not 0 <= i < self.num_classes]
        if bad or len(set(seen)) != len(seen) or not seen:
            raise ValueError(f'seen_classes must be distinct ids in 0..{self.num_classes - 1}, '
                             f'got {list(seen_classes)}')
        # the official code's normalisation (norm + 1e-5); xlsa17's `att` is already unit norm
        att = att / (att.norm(dim=1, keepdim=True) + 1e-5)
        self.class_attributes.copy_(att.to(self.class_attributes.device))
        self.seen_mask.zero_()
        self.seen_mask[seen] = True
        self._set_seen_index()
        if attribute_group_ids is not None:
            self.set_attribute_groups(attribute_group_ids)

    def set_attribute_groups(self, attribute_group_ids: ArrayLike) -> None:
        ids = torch.as_tensor(_as_array(attribute_group_ids, 'attribute group'),
                              dtype=torch.long).flatten()
        if ids.numel() != self.num_attributes:
            raise ValueError(f'attribute_group_ids has {ids.numel()} entries; expected one per '
                             f'attribute ({self.num_attributes})')
        self.attribute_group_ids.copy_(ids.to(self.attribute_group_ids.device))

    def _set_seen_index(self) -> None:
        """Derive ``seen_class_ids`` [S] (ids of the seen classes) and
        ``seen_class_position`` [C] (position of each class among them, -1 if unseen) from
        ``seen_mask``: one host synchronisation."""
        mask = self.seen_mask
        self.seen_class_ids = mask.nonzero().flatten()
        self.seen_class_position = (torch.cumsum(mask.long(), 0) - 1).masked_fill(~mask, -1)
        self._seen_stamp = _stamp(mask)

    def _seen_index(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """(``seen_class_ids`` [S], ``seen_class_position`` [C]), long on the mask's device.

        Set with the class table; derived again only when ``seen_mask`` was written by other
        means since (``load_state_dict``, ``Module.to``, a deep copy, an in-place write)."""
        stamp = _stamp(self.seen_mask)
        if stamp is None or stamp != self._seen_stamp:
            self._set_seen_index()
        if self.seen_class_ids.numel() == 0:
            raise RuntimeError(NEVER_SET)
        return self.seen_class_ids, self.seen_class_position

    def _class_rows(self, classes: str) -> torch.Tensor:
        seen_ids, _ = self._seen_index()  # also: was the class table set at all?
        if classes == 'seen':
            return self.class_attributes.index_select(0, seen_ids)
        if classes == 'all':
            return self.class_attributes
        raise ValueError(f"classes must be 'seen' or 'all', got {classes!r}")

    # ------------------------------------------------------------ computation
    def unit_features(self, feat: torch.Tensor) -> torch.Tensor:
        """Backbone patch tokens (see :func:`tokens_to_patch_grid`) -> [B, U, u*u*C] units."""
        patches, grid = tokens_to_patch_grid(feat)
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
        rows = self._class_rows(classes).to(attributes.dtype)
        if self.similarity_type == 'cosine':
            attributes = F.normalize(attributes, dim=-1)
        return attributes @ rows.t()

    def class_logits(self, attributes: torch.Tensor, classes: str = 'seen') -> torch.Tensor:
        return self.scale * self.similarity(attributes, classes)

    def seen_targets(self, data_samples: List[DataSample]) -> torch.Tensor:
        """Global ``gt_label`` -> [B] index among the seen classes; unseen labels are errors.

        The check does not wait for the GPU: on the CPU an unseen label raises a
        ``ValueError`` naming it here; on a GPU it fails a device-side assertion at the next
        synchronisation.
        """
        labels = torch.cat([s.gt_label for s in data_samples]).to(self.seen_mask.device)
        _, position = self._seen_index()
        target = position[labels]
        try:
            torch._assert_async((target >= 0).all(),
                                f'training samples of unseen classes: {UNSEEN_LABELS}')
        except RuntimeError:  # only raised at once on the CPU
            bad = labels[target < 0].unique().tolist()
            raise ValueError(f'training samples of unseen classes {bad}: {UNSEEN_LABELS}') \
                from None
        return target

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
        scores = F.softmax(self.class_logits(attributes, 'all').float(), dim=1)
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [None] * scores.size(0)
        out = []
        for i, sample in enumerate(data_samples):
            sample = DataSample() if sample is None else sample
            sample.set_pred_score(scores[i]).set_pred_label(labels[i])
            sample.set_field(attributes[i].detach().float(), 'pred_attributes', field_type='data')
            if keep is not None:
                sample.set_field(keep[i], 'keep_mask', field_type='data')
            out.append(sample)
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
