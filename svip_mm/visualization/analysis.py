"""Everything the figures show about one image, computed once from an :class:`SVIPClassifier`.

:func:`analyse_image` runs the model's own inference pass (:meth:`SVIPClassifier.infer`, so
the keep set, selector probabilities and attribute scores are exactly those of
``predict``) and, on the side, the source pass (the full image with the attention maps of
every layer) that the selector is trained from. The head's per-unit attribute scores are
read from the inference pass by a forward hook on ``head.fc``.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import is_model_wrapper

from ..models.necks import aggregate_cls_attention
from ..models.utils import check_unit_grid
from .grid import as_numpy

__all__ = ['SVIPImageAnalysis', 'analyse_image']


@dataclass
class SVIPImageAnalysis:
    """What the model did on one image (numpy arrays; ``L`` layers, ``h x w`` patch grid,
    ``U = gh * gw`` units, ``K`` attributes, ``C`` classes).

    Attributes:
        image: ``[H, W, 3]`` uint8 RGB, the input as the model saw it (after the pipeline).
        patch_grid: ``(h, w)``.
        unit_grid: ``(gh, gw) = (h / u, w / u)``.
        patch_size: ``p``; the grids cover the top-left ``h*p x w*p`` pixels.
        layer_attention: ``[L, h*w]`` CLS-to-patch attention of each layer of the source
            pass (full image), head mean.
        aggregated_attention: ``[h*w]`` those maps aggregated by the neck's ``aggregation``
            (``rollout``: R[CLS, patches] of the attention rollout).
        aggregation: the neck's aggregation mode.
        attention_unit_scores: ``[U]`` the aggregated attention averaged per unit (the
            selector's training signal: the k highest are "kept").
        selector_prob: ``[U]`` the selector's probability that a unit is semantic-unrelated.
        keep_mask: ``[U]`` bool, the units inference keeps (the k lowest ``selector_prob``);
            the others receive the context token.
        unit_attribute_scores: ``[U, K]`` the head's attribute scores of each final unit of
            the inference pass (``head.fc(units)``), before pooling.
        attribute_scores: ``[K]`` the pooled attribute prediction (``pred_attributes``).
        class_scores: ``[C]`` softmax class scores over all classes of the head's table,
            or None when the head has no class table.
        class_names, attribute_names: optional names for titles.
        unseen: ``[C]`` bool, True for the classes unseen in training (None when the head has
            no class table).
        context_mode: the neck's ``context_mode``: what the units that are not kept receive.
    """
    image: np.ndarray
    patch_grid: tuple
    unit_grid: tuple
    patch_size: int
    layer_attention: np.ndarray
    aggregated_attention: np.ndarray
    aggregation: str
    attention_unit_scores: np.ndarray
    selector_prob: np.ndarray
    keep_mask: np.ndarray
    unit_attribute_scores: np.ndarray
    attribute_scores: np.ndarray
    class_scores: Optional[np.ndarray] = None
    class_names: Optional[List[str]] = None
    attribute_names: Optional[List[str]] = None
    unseen: Optional[np.ndarray] = field(default=None)
    context_mode: Optional[str] = None

    @property
    def covered_hw(self) -> tuple:
        """Pixels covered by the patch grid, ``(h*p, w*p)``."""
        return (self.patch_grid[0] * self.patch_size, self.patch_grid[1] * self.patch_size)

    @property
    def pred_label(self) -> Optional[int]:
        return None if self.class_scores is None else int(np.argmax(self.class_scores))


def _unwrap(model):
    model = model.module if is_model_wrapper(model) else model
    missing = [name for name in ('backbone', 'neck', 'head', 'infer') if not hasattr(model, name)]
    if missing or not all(hasattr(model.backbone, m) for m in ('embed', 'encode')) or \
            not hasattr(model.head, 'fc'):
        raise TypeError(f'analyse_image needs an SVIPClassifier (backbone.embed/encode, neck, '
                        f'head.fc, infer); got {type(model).__name__} (missing {missing})')
    return model


def _display_from_inputs(x: torch.Tensor) -> np.ndarray:
    """Fallback display image: the normalised input rescaled per channel to 0..255."""
    img = as_numpy(x).transpose(1, 2, 0)
    lo, hi = img.min(axis=(0, 1)), img.max(axis=(0, 1))
    return ((img - lo) / np.maximum(hi - lo, 1e-12) * 255).astype(np.uint8)


def analyse_image(model, inputs: torch.Tensor, image: Optional[np.ndarray] = None,
                  class_names: Optional[Sequence[str]] = None,
                  attribute_names: Optional[Sequence[str]] = None,
                  data_sample=None) -> SVIPImageAnalysis:
    """Run one image through an SVIP classifier and collect what the figures show.

    Args:
        model: an :class:`SVIPClassifier` (or a wrapper of one). It is switched to eval mode
            for the call and restored afterwards.
        inputs: ``[3, H, W]`` or ``[1, 3, H, W]``, the image after the data preprocessor.
        image: ``[H, W, 3]`` uint8 RGB to draw on (e.g. from
            :func:`~svip_mm.visualization.input_to_display`); default: ``inputs``
            rescaled per channel.
        class_names, attribute_names: carried into the result for titles.
        data_sample: the image's ``DataSample``; needed for a model with
            ``selection='oracle'``, whose keep set comes from its ``gt_fg_mask``.

    Returns:
        a :class:`SVIPImageAnalysis`.
    """
    model = _unwrap(model)
    x = inputs.unsqueeze(0) if inputs.dim() == 3 else inputs
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f'analyse_image takes one image [3, H, W] or [1, 3, H, W], got shape '
                         f'{tuple(inputs.shape)}')
    backbone, neck, head = model.backbone, model.neck, model.head
    captured = {}

    def keep_first(module, args, output):
        captured.setdefault('unit_scores', output)

    was_training = model.training
    model.eval()
    handle = head.fc.register_forward_hook(keep_first)
    try:
        with torch.no_grad():
            attributes, keep, details = model.infer(
                x, with_details=True,
                data_samples=None if data_sample is None else [data_sample])
            handle.remove()
            patches, grid = backbone.embed(x)
            _, maps = backbone.encode(patches, grid, return_attn=True)
            aggregated = aggregate_cls_attention(maps, neck.aggregation, backbone.num_heads)
            unit_attention = neck.attention_unit_scores(maps, grid, backbone.num_heads)
            class_scores = None
            if bool(head.seen_mask.any()):
                class_scores = F.softmax(head.class_logits(attributes, 'all').float(), dim=1)
    finally:
        handle.remove()
        model.train(was_training)
    if image is None:
        image = _display_from_inputs(x[0])
    unit_scores = captured['unit_scores']
    return SVIPImageAnalysis(
        image=np.asarray(image),
        patch_grid=tuple(int(g) for g in grid),
        unit_grid=check_unit_grid(grid, head.unit_size),
        patch_size=int(backbone.patch_size),
        layer_attention=np.stack([as_numpy(m[0, 0, 1:]) for m in maps]),
        aggregated_attention=as_numpy(aggregated[0]),
        aggregation=neck.aggregation,
        attention_unit_scores=as_numpy(unit_attention[0]),
        selector_prob=as_numpy(details['selector_prob'][0]),
        keep_mask=as_numpy(keep[0]).astype(bool),
        unit_attribute_scores=as_numpy(unit_scores[0]),
        attribute_scores=as_numpy(attributes[0]),
        class_scores=None if class_scores is None else as_numpy(class_scores[0]),
        class_names=None if class_names is None else list(class_names),
        attribute_names=None if attribute_names is None else list(attribute_names),
        unseen=as_numpy(~head.seen_mask) if bool(head.seen_mask.any()) else None,
        context_mode=getattr(neck, 'context_mode', None))
