"""The zero-shot class table a head scores against: class attribute vectors, which classes
are seen, the attribute groups, and the remapping of global labels to seen-class targets."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmpretrain.structures import DataSample

from ...utils.finite import check_finite
from ..utils.arrays import ArrayLike, read_array

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


def normalise_class_attributes(att: torch.Tensor) -> torch.Tensor:
    """[C, K] -> rows divided by (L2 norm + 1e-5): the official code's normalisation
    (xlsa17's ``att`` is already unit norm)."""
    return att / (att.norm(dim=1, keepdim=True) + 1e-5)


def class_table_buffers(model) -> List[str]:
    """State-dict keys of the buffers ``ZSLClassTableHook`` sets from the dataset (modules
    list theirs in ``CLASS_TABLE_BUFFERS``): a checkpoint may lack them."""
    return [f'{prefix}.{name}' if prefix else name
            for prefix, module in model.named_modules()
            for name in getattr(type(module), 'CLASS_TABLE_BUFFERS', ())]


class ClassTableMixin:
    """Class-table buffers and their use, mixed into an ``nn.Module`` head.

    Buffers (state-dict keys on the head itself, as before this mixin existed):

    - ``class_attributes`` [C, K] float, rows L2-normalised;
    - ``seen_mask`` [C] bool;
    - ``attribute_group_ids`` [K] long, -1 = in no group;
    - not saved, derived from ``seen_mask`` when it is set: ``seen_class_ids`` [S] and
      ``seen_class_position`` [C] (position among the seen classes, -1 if unseen), so the
      training step needs no host synchronisation.

    The host module calls :meth:`_init_class_table` in its ``__init__``.
    """
    # filled from the dataset by ZSLClassTableHook, so a checkpoint need not carry them
    CLASS_TABLE_BUFFERS = ('class_attributes', 'seen_mask', 'attribute_group_ids')

    def _init_class_table(self, num_classes: int, num_attributes: int,
                          class_attributes: Optional[ArrayLike] = None,
                          seen_classes: Optional[Sequence[int]] = None,
                          attribute_group_ids: Optional[ArrayLike] = None) -> None:
        self.num_attributes, self.num_classes = num_attributes, num_classes
        self.register_buffer('class_attributes', torch.zeros(num_classes, num_attributes))
        self.register_buffer('seen_mask', torch.zeros(num_classes, dtype=torch.bool))
        self.register_buffer('attribute_group_ids',
                             torch.full((num_attributes, ), -1, dtype=torch.long))
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

    def set_class_attributes(self, class_attributes: ArrayLike, seen_classes: Sequence[int],
                             attribute_group_ids: Optional[ArrayLike] = None) -> None:
        """Store the [num_classes, K] class attribute matrix (rows get L2-normalised).

        Raises:
            ValueError: a wrong shape or seen-class list; a NaN, inf or beyond-float32 value
                (it would make every class score nan).
        """
        array = read_array(class_attributes, 'class attribute')
        # before the float32 cast, where 1e39 would become inf
        check_finite(array, 'class attributes [num_classes, num_attributes]',
                     axes=('class', 'attribute'))
        att = torch.as_tensor(array, dtype=torch.float32)
        if tuple(att.shape) != (self.num_classes, self.num_attributes):
            raise ValueError(f'class attributes have shape {tuple(att.shape)}; expected '
                             f'[num_classes, num_attributes] = '
                             f'[{self.num_classes}, {self.num_attributes}]')
        seen = [int(i) for i in seen_classes]
        bad = [i for i in seen if not 0 <= i < self.num_classes]
        if bad or len(set(seen)) != len(seen) or not seen:
            raise ValueError(f'seen_classes must be distinct ids in 0..{self.num_classes - 1}, '
                             f'got {list(seen_classes)}')
        att = normalise_class_attributes(att)
        self.class_attributes.copy_(att.to(self.class_attributes.device))
        self.seen_mask.zero_()
        self.seen_mask[seen] = True
        self._set_seen_index()
        if attribute_group_ids is not None:
            self.set_attribute_groups(attribute_group_ids)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """``nn.Module`` loading, refusing a checkpoint whose class table holds a NaN, an inf
        or a beyond-float32 value (the scores of every image would be nan)."""
        key = prefix + 'class_attributes'
        if key in state_dict:
            check_finite(state_dict[key], f'checkpoint buffer {key!r} [num_classes, '
                         'num_attributes]', axes=('class', 'attribute'))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def set_attribute_groups(self, attribute_group_ids: ArrayLike) -> None:
        """Store the [K] group index per attribute (negative = in no group)."""
        ids = torch.as_tensor(read_array(attribute_group_ids, 'attribute group'),
                              dtype=torch.long).flatten()
        if ids.numel() != self.num_attributes:
            raise ValueError(f'attribute_group_ids has {ids.numel()} entries; expected one per '
                             f'attribute ({self.num_attributes})')
        self.attribute_group_ids.copy_(ids.to(self.attribute_group_ids.device))

    def _set_seen_index(self) -> None:
        """Derive ``seen_class_ids`` and ``seen_class_position`` from ``seen_mask``: one
        host synchronisation."""
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

    def class_rows(self, classes: str) -> torch.Tensor:
        """[C', K] normalised attribute vectors of the seen (``'seen'``) or all classes."""
        seen_ids, _ = self._seen_index()  # also: was the class table set at all?
        if classes == 'seen':
            return self.class_attributes.index_select(0, seen_ids)
        if classes == 'all':
            return self.class_attributes
        raise ValueError(f"classes must be 'seen' or 'all', got {classes!r}")

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
