"""What every zero-shot head offers, whichever method it implements (docs/interfaces.md,
"ZSL heads").

The metrics, the inferencer, the prediction collector and the figures work with any head
that follows :class:`ZSLHeadMixin`: :class:`SemanticAttributeHead` (SVIP and the
"ViT + attribute head" baseline), :class:`APNHead` and :class:`TransZeroHead`.
"""
from abc import ABCMeta, abstractmethod
from typing import List, Optional, Protocol, Sequence, Tuple

import numpy as np
import torch
from mmpretrain.structures import DataSample

from ..utils.arrays import ArrayLike, read_array
from .class_table import ClassTableMixin, normalise_class_attributes

Feats = Tuple[torch.Tensor, ...]


class ZSLHead(Protocol):
    """The members every ZSL head offers, as a protocol (docs/interfaces.md, "ZSL heads";
    :class:`ZSLHeadMixin` documents and implements them). ``attribute_maps`` is optional:
    a head without per-unit scores has none (:func:`has_attribute_maps`).

    :func:`svip_mm.models.classifiers.check_interface` checks a component against
    it.
    """
    num_classes: int
    num_attributes: int
    class_attributes: torch.Tensor  # [C, K]
    seen_mask: torch.Tensor  # [C] bool

    def set_class_attributes(self, class_attributes: ArrayLike, seen_classes: Sequence[int],
                             attribute_group_ids: Optional[ArrayLike] = None) -> None:
        ...

    def predict(self, feats: Feats, data_samples: Optional[List[Optional[DataSample]]] = None
                ) -> List[DataSample]:
        ...

    def score_classes(self, attributes: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        ...

    def prediction_bias(self) -> Optional[torch.Tensor]:
        ...

    def class_table_rows(self, class_attributes: ArrayLike) -> torch.Tensor:
        ...


class ZSLHeadMixin(ClassTableMixin, metaclass=ABCMeta):
    """The ZSL head interface, mixed in before mmpretrain's ``ClsHead``:
    ``class MyHead(ZSLHeadMixin, ClsHead)`` (docs/interfaces.md, "ZSL heads").

    Shapes: B images, K attributes, C classes of the head's table (seen and unseen), C' the
    classes of any other table, h' x w' the head's map grid.

    Class table (:class:`ClassTableMixin`; buffers, so they travel with checkpoints):

    - ``num_classes`` C and ``num_attributes`` K (ints);
    - ``class_attributes`` [C, K] float, rows L2-normalised (:meth:`class_table_rows`);
    - ``seen_mask`` [C] bool;
    - ``set_class_attributes(class_attributes [C, K], seen_classes, attribute_group_ids=None)``
      (``ZSLClassTableHook`` calls it with the dataset's metainfo).

    Prediction and scoring:

    - :meth:`predict` ``(feats, data_samples)`` writes on each sample ``pred_score`` [C]
      float32, the softmax over ALL C classes; ``pred_label`` [1] long, its argmax; and
      ``pred_attributes`` [K] float32, the image's attribute vector a (detached);
    - :meth:`score_classes` ``(attributes [B, K], rows [C', K]) -> [B, C']`` class logits of any
      class table from the attribute vectors, computed as the head computes its own;
    - :meth:`prediction_bias` ``-> [C] or None``: what :meth:`predict` adds to the logits of
      its own table before the softmax (a calibration such as TransZero's), so that, for
      every head::

          pred_score == softmax(score_classes(pred_attributes, class_attributes)
                                + (prediction_bias() or 0))

    - :meth:`class_table_rows` ``(class_attributes [C', K]) -> rows [C', K]``: the head's rule
      for turning raw class attribute vectors into the rows :meth:`score_classes` takes (L2
      normalisation; TransZero may clip negatives first).

    Localisation (where a head has it; :func:`has_attribute_maps` tells):

    - :meth:`attribute_maps` ``(feats) -> [B, K, h', w']``: one map per attribute over the
      head's spatial units, raster layout as the image; a cell covers s x s patches of the
      backbone's h x w patch grid (h' = h / s): s = 1 for APN and TransZero (patches), the
      head's ``unit_size`` for :class:`SemanticAttributeHead` (its units).

    ``feats`` is the backbone output tuple mmpretrain passes to heads (the last entry is
    used): a feature map [B, D, h, w] or tokens [B, P + h*w, D] (see
    :func:`tokens_to_patch_grid`).
    """

    @abstractmethod
    def predict(self, feats: Feats,
                data_samples: Optional[List[Optional[DataSample]]] = None) -> List[DataSample]:
        """Backbone output -> one DataSample per image with ``pred_score`` [C] (softmax over
        all classes), ``pred_label`` [1] and ``pred_attributes`` [K]; given samples are
        filled in place and returned."""

    @abstractmethod
    def score_classes(self, attributes: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Class logits of any class table.

        Args:
            attributes: [B, K] attribute vectors (``pred_attributes`` or the head's
                ``forward`` output).
            rows: [C', K] class attribute vectors prepared by :meth:`class_table_rows`
                (the head's own are ``class_attributes`` / ``class_rows('all')``).

        Returns:
            [B, C'] logits, without :meth:`prediction_bias`.
        """

    def prediction_bias(self) -> Optional[torch.Tensor]:
        """[C] added to ``score_classes(a, class_attributes)`` before the softmax of
        ``pred_score``, or None (no bias: the default)."""
        return None

    def class_table_rows(self, class_attributes: ArrayLike) -> torch.Tensor:
        """[C', K] raw class attribute vectors (any table) -> [C', K] float32 rows for
        :meth:`score_classes`, prepared as :meth:`set_class_attributes` prepares the head's
        own: each row divided by (L2 norm + 1e-5)."""
        array = read_array(class_attributes, 'class attribute')
        if array.ndim != 2 or array.shape[1] != self.num_attributes:
            raise ValueError(f'{type(self).__name__}: a class table has shape '
                             f'{tuple(array.shape)}; expected [classes, num_attributes] = '
                             f'[C\', {self.num_attributes}]')
        return normalise_class_attributes(torch.as_tensor(np.asarray(array), dtype=torch.float32))

    def attribute_maps(self, feats: Feats) -> torch.Tensor:
        """Backbone output -> [B, K, h', w'] per-unit attribute maps (see the class docstring).

        Raises:
            NotImplementedError: the head has no per-unit attribute scores.
        """
        raise NotImplementedError(f'{type(self).__name__} has no per-unit attribute maps '
                                  '(ZSLHeadMixin.attribute_maps, docs/interfaces.md)')


def write_predictions(logits: torch.Tensor, attributes: torch.Tensor,
                      data_samples: Optional[List[Optional[DataSample]]] = None
                      ) -> List[DataSample]:
    """The prediction fields every ZSL head writes, on one DataSample per image.

    Args:
        logits: [B, C] class logits over all C classes (with the head's prediction bias).
        attributes: [B, K] the images' attribute vectors.
        data_samples: B samples to fill in place (None: new ones).

    Returns:
        The samples, each with ``pred_score`` [C] (float32 softmax of ``logits``),
        ``pred_label`` [1] (its argmax) and ``pred_attributes`` [K] (float32, detached).
    """
    scores = torch.softmax(logits.detach().float(), dim=1)
    labels = scores.argmax(dim=1, keepdim=True)
    if data_samples is None:
        data_samples = [None] * scores.size(0)
    out = []
    for i, sample in enumerate(data_samples):
        sample = DataSample() if sample is None else sample
        sample.set_pred_score(scores[i]).set_pred_label(labels[i])
        sample.set_field(attributes[i].detach().float(), 'pred_attributes', field_type='data')
        out.append(sample)
    return out


def has_attribute_maps(head) -> bool:
    """Whether ``head`` implements :meth:`ZSLHeadMixin.attribute_maps`."""
    method = getattr(type(head), 'attribute_maps', None)
    return method is not None and method is not ZSLHeadMixin.attribute_maps


def tokens_to_maps(scores: torch.Tensor, grid: Sequence[int]) -> torch.Tensor:
    """[B, h'*w', K] per-unit scores in raster order -> [B, K, h', w'] maps."""
    b, n, k = scores.shape
    h, w = int(grid[0]), int(grid[1])
    if n != h * w:
        raise ValueError(f'{n} per-unit scores do not fill a {h}x{w} grid')
    return scores.transpose(1, 2).reshape(b, k, h, w)
