"""Everything the figures show about one image, computed once from a ZSL model.

:func:`analyse_image` takes any zero-shot model of svip_mm and collects what it can give:

- an :class:`SVIPClassifier`: its own inference pass (:meth:`SVIPClassifier.infer`, so the keep
  set, selector probabilities and attribute scores are exactly those of ``predict``) and, on
  the side, the source pass (the full image with the attention maps of every layer) that the
  selector is trained from. The head's per-unit attribute scores are read from the inference
  pass by a forward hook on ``head.fc``;
- a classifier whose head is a ZSL head (mmpretrain's ``ImageClassifier`` with
  :class:`SemanticAttributeHead`, :class:`APNHead` or :class:`TransZeroHead`): one
  ``extract_feat`` pass, the head's prediction on it (``pred_attributes``, ``pred_score``),
  the head's ``attribute_maps`` on the same features, and the attention of every layer of an
  mmpretrain ``VisionTransformer`` read by forward hooks (:mod:`.vit_attention`).

What a model cannot give (the selection of a model without a selector, the attention of a
backbone whose attention cannot be read, the localisation of a head without
``attribute_maps``) is left None, and :attr:`ZSLImageAnalysis.unavailable` says why.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import is_model_wrapper

from ..models.heads.zsl_head import has_attribute_maps
from ..models.necks import aggregate_cls_attention
from ..models.utils import check_unit_grid
from .grid import as_numpy
from .vit_attention import attention_unavailable, cls_rollout, read_vit_attention

__all__ = ['SVIPImageAnalysis', 'ZSLImageAnalysis', 'analyse_image']

# the panel groups of the figures, in order
PANEL_GROUPS = ('attention', 'selection', 'attribute_localisation')


@dataclass
class ZSLImageAnalysis:
    """What the model did on one image (numpy arrays; ``L`` layers, ``h x w`` patch grid,
    ``U = gh * gw`` units, ``K`` attributes, ``C`` classes). A field the model cannot give is
    None; :attr:`unavailable` says why, per panel group.

    Attributes:
        image: ``[H, W, 3]`` uint8 RGB, the input as the model saw it (after the pipeline).
        patch_grid: ``(h, w)``.
        patch_size: ``p``; the grids cover the top-left ``h*p x w*p`` pixels.
        attribute_scores: ``[K]`` the pooled attribute prediction (``pred_attributes``).
        unit_grid: ``(gh, gw)`` of ``unit_attribute_scores`` (and of SVIP's keep mask): the
            head's unit grid, ``(h / u, w / u)``; None without attribute maps.
        layer_attention: ``[L, h*w]`` CLS-to-patch attention of each layer, head mean (SVIP:
            of the source pass on the full image; an ImageClassifier: of its one pass).
        aggregated_attention: ``[h*w]`` those maps aggregated (``aggregation``).
        aggregation: SVIP: the neck's aggregation mode (``rollout``: R[CLS, patches] of the
            attention rollout); an ImageClassifier: ``'rollout'``.
        attention_unit_scores: ``[U]`` SVIP only: the aggregated attention averaged per unit
            (the selector's training signal: the k highest are "kept").
        selector_prob: ``[U]`` SVIP only: the selector's probability that a unit is
            semantic-unrelated.
        keep_mask: ``[U]`` bool, SVIP only: the units inference keeps (the k lowest
            ``selector_prob``); the others receive the context token.
        unit_attribute_scores: ``[U, K]`` per-unit attribute scores before pooling: SVIP: the
            head's ``fc`` of each final unit of the inference pass; an ImageClassifier: its
            head's ``attribute_maps`` (``[K, gh, gw]`` in raster order).
        class_scores: ``[C]`` softmax class scores over all classes of the head's table
            (the model's ``pred_score``), or None when the head has no class table.
        class_names, attribute_names: optional names for titles.
        unseen: ``[C]`` bool, True for the classes unseen in training (None when the head has
            no class table).
        context_mode: SVIP's ``context_mode``: what the units that are not kept receive.
        model_kind: ``'svip'`` or ``'image_classifier'``.
        model_name: e.g. ``'ImageClassifier with APNHead'``, for titles.
        unavailable: panel group (``'attention'``, ``'selection'``,
            ``'attribute_localisation'``) -> why the model cannot give it.
    """
    image: np.ndarray
    patch_grid: tuple
    patch_size: int
    attribute_scores: np.ndarray
    unit_grid: Optional[tuple] = None
    layer_attention: Optional[np.ndarray] = None
    aggregated_attention: Optional[np.ndarray] = None
    aggregation: str = 'rollout'
    attention_unit_scores: Optional[np.ndarray] = None
    selector_prob: Optional[np.ndarray] = None
    keep_mask: Optional[np.ndarray] = None
    unit_attribute_scores: Optional[np.ndarray] = None
    class_scores: Optional[np.ndarray] = None
    class_names: Optional[List[str]] = None
    attribute_names: Optional[List[str]] = None
    unseen: Optional[np.ndarray] = field(default=None)
    context_mode: Optional[str] = None
    model_kind: str = 'svip'
    model_name: str = 'SVIPClassifier'
    unavailable: Dict[str, str] = field(default_factory=dict)

    @property
    def covered_hw(self) -> tuple:
        """Pixels covered by the patch grid, ``(h*p, w*p)``."""
        return (self.patch_grid[0] * self.patch_size, self.patch_grid[1] * self.patch_size)

    @property
    def pred_label(self) -> Optional[int]:
        return None if self.class_scores is None else int(np.argmax(self.class_scores))

    @property
    def panels(self) -> List[str]:
        """The panel groups this analysis can draw, in figure order."""
        return [g for g in PANEL_GROUPS if g not in self.unavailable]


# the name the SVIP code and tutorials use
SVIPImageAnalysis = ZSLImageAnalysis


def _model_name(model) -> str:
    head = getattr(model, 'head', None)
    return type(model).__name__ + (f' with {type(head).__name__}' if head is not None else '')


def _unwrap(model):
    """The model and its kind (``'svip'`` / ``'image_classifier'``), or a TypeError naming
    what is missing."""
    model = model.module if is_model_wrapper(model) else model
    if all(hasattr(model, n) for n in ('backbone', 'neck', 'head', 'infer')) and \
            getattr(model, 'neck', None) is not None:
        missing = [f'backbone.{m}' for m in ('embed', 'encode')
                   if not hasattr(model.backbone, m)]
        missing += [] if hasattr(model.head, 'fc') else ['head.fc']
        if missing:
            raise TypeError(f'analyse_image: {_model_name(model)} looks like an SVIPClassifier '
                            f'but has no {", ".join(missing)}')
        return model, 'svip'
    head = getattr(model, 'head', None)
    missing = [n for n in ('predict', 'seen_mask', 'num_attributes') if not hasattr(head, n)]
    if head is None or missing or not hasattr(model, 'extract_feat'):
        raise TypeError(f'analyse_image needs a zero-shot model: an SVIPClassifier, or a '
                        'classifier with extract_feat whose head is a ZSL head '
                        f'(SemanticAttributeHead, APNHead, TransZeroHead); got '
                        f'{_model_name(model)} (missing '
                        f'{missing if head is not None else ["head"]})')
    return model, 'image_classifier'


def _display_from_inputs(x: torch.Tensor) -> np.ndarray:
    """Fallback display image: the normalised input rescaled per channel to 0..255."""
    img = as_numpy(x).transpose(1, 2, 0)
    lo, hi = img.min(axis=(0, 1)), img.max(axis=(0, 1))
    return ((img - lo) / np.maximum(hi - lo, 1e-12) * 255).astype(np.uint8)


def analyse_image(model, inputs: torch.Tensor, image: Optional[np.ndarray] = None,
                  class_names: Optional[Sequence[str]] = None,
                  attribute_names: Optional[Sequence[str]] = None,
                  data_sample=None) -> ZSLImageAnalysis:
    """Run one image through a ZSL model and collect what the figures show.

    Args:
        model: an :class:`SVIPClassifier`, or a classifier whose head is a ZSL head (e.g.
            mmpretrain's ``ImageClassifier`` with :class:`APNHead`), or a wrapper of one. It
            is switched to eval mode for the call and restored afterwards.
        inputs: ``[3, H, W]`` or ``[1, 3, H, W]``, the image after the data preprocessor.
        image: ``[H, W, 3]`` uint8 RGB to draw on (e.g. from
            :func:`~svip_mm.visualization.input_to_display`); default: ``inputs``
            rescaled per channel.
        class_names, attribute_names: carried into the result for titles.
        data_sample: the image's ``DataSample``; needed for an SVIP model with
            ``selection='oracle'``, whose keep set comes from its ``gt_fg_mask``.

    Returns:
        a :class:`ZSLImageAnalysis` (what the model cannot give is None, and
        ``unavailable`` says why).

    Raises:
        TypeError: not a zero-shot model; ValueError: not one image.
    """
    model, kind = _unwrap(model)
    x = inputs.unsqueeze(0) if inputs.dim() == 3 else inputs
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f'analyse_image takes one image [3, H, W] or [1, 3, H, W], got shape '
                         f'{tuple(inputs.shape)}')
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if kind == 'svip':
                analysis = _analyse_svip(model, x, data_sample)
            else:
                analysis = _analyse_classifier(model, x)
    finally:
        model.train(was_training)
    analysis.image = np.asarray(image if image is not None else _display_from_inputs(x[0]))
    analysis.class_names = None if class_names is None else list(class_names)
    analysis.attribute_names = None if attribute_names is None else list(attribute_names)
    analysis.model_name = _model_name(model)
    head = model.head
    if bool(head.seen_mask.any()):
        analysis.unseen = as_numpy(~head.seen_mask)
    else:
        analysis.class_scores = None
    return analysis


def _analyse_svip(model, x: torch.Tensor, data_sample) -> ZSLImageAnalysis:
    """The SVIP inference pass (keep set, selector, per-unit scores by a hook on ``head.fc``)
    and the source pass with every layer's attention."""
    backbone, neck, head = model.backbone, model.neck, model.head
    captured = {}

    def keep_first(module, args, output):
        captured.setdefault('unit_scores', output)

    handle = head.fc.register_forward_hook(keep_first)
    try:
        attributes, keep, details = model.infer(
            x, with_details=True, data_samples=None if data_sample is None else [data_sample])
    finally:
        handle.remove()
    patches, grid = backbone.embed(x)
    _, maps = backbone.encode(patches, grid, return_attn=True)
    aggregated = aggregate_cls_attention(maps, neck.aggregation, backbone.num_heads)
    unit_attention = neck.attention_unit_scores(maps, grid, backbone.num_heads)
    class_scores = None
    if bool(head.seen_mask.any()):
        class_scores = F.softmax(head.class_logits(attributes, 'all').float(), dim=1)
    return ZSLImageAnalysis(
        image=None,
        patch_grid=tuple(int(g) for g in grid),
        unit_grid=check_unit_grid(grid, head.unit_size),
        patch_size=int(backbone.patch_size),
        layer_attention=np.stack([as_numpy(m[0, 0, 1:]) for m in maps]),
        aggregated_attention=as_numpy(aggregated[0]),
        aggregation=neck.aggregation,
        attention_unit_scores=as_numpy(unit_attention[0]),
        selector_prob=as_numpy(details['selector_prob'][0]),
        keep_mask=as_numpy(keep[0]).astype(bool),
        unit_attribute_scores=as_numpy(captured['unit_scores'][0]),
        attribute_scores=as_numpy(attributes[0]),
        class_scores=None if class_scores is None else as_numpy(class_scores[0]),
        context_mode=getattr(neck, 'context_mode', None),
        model_kind='svip')


def _analyse_classifier(model, x: torch.Tensor) -> ZSLImageAnalysis:
    """One ``extract_feat`` pass (with the ViT's attention read by hooks when it can be), the
    head's prediction and its attribute maps on the same features."""
    backbone, head = model.backbone, model.head
    unavailable = {'selection': f'{_model_name(model)} selects no patches (only '
                                'SVIPClassifier has a patch selector)'}
    no_attention = attention_unavailable(backbone)
    maps = None
    if no_attention is None:
        feats, maps = read_vit_attention(model, x)
    else:
        unavailable['attention'] = no_attention
        feats = model.extract_feat(x)
    prefix = int(getattr(backbone, 'num_extra_tokens', 1))
    size = getattr(backbone, 'img_size', None)
    size = (size, size) if isinstance(size, int) else tuple(size) if size is not None else None
    grid = tuple(int(g) for g in getattr(backbone, 'patch_resolution', ()) or ())
    if len(grid) != 2 and maps:
        side = int(round((maps[0].shape[-1] - prefix) ** 0.5))
        grid = (side, side)
    patch_size = (size[0] // grid[0]) if size is not None and len(grid) == 2 else 1
    # the last feature's own grid when it is a feature map (any input size)
    last = feats[-1]
    if last.dim() == 4:
        grid = tuple(int(g) for g in last.shape[-2:])
    samples = head.predict(feats) if bool(head.seen_mask.any()) else None
    attributes = (torch.stack([s.pred_attributes for s in samples]) if samples is not None
                  else head(feats))
    analysis = ZSLImageAnalysis(
        image=None, patch_grid=grid, patch_size=int(patch_size),
        attribute_scores=as_numpy(attributes[0]),
        class_scores=None if samples is None else as_numpy(samples[0].pred_score),
        model_kind='image_classifier', unavailable=unavailable)
    if maps is not None:
        n = grid[0] * grid[1]
        layer = np.stack([as_numpy(m[0, 0, prefix:]) for m in maps])
        if layer.shape[1] != n:
            unavailable['attention'] = (f'the attention maps have {layer.shape[1]} patch '
                                        f'tokens; expected {n} for the {grid[0]}x{grid[1]} '
                                        'patch grid')
        else:
            analysis.layer_attention = layer
            analysis.aggregated_attention = as_numpy(cls_rollout(maps, prefix)[0])
    if not has_attribute_maps(head):  # the mixin's default raises NotImplementedError
        unavailable['attribute_localisation'] = (f'{type(head).__name__} has no per-unit '
                                                 'attribute maps (attribute_maps)')
    else:
        att_maps = head.attribute_maps(feats)
        k = int(head.num_attributes)
        if att_maps.dim() != 4 or att_maps.shape[:2] != (1, k):
            unavailable['attribute_localisation'] = (
                f'{type(head).__name__}.attribute_maps returned shape '
                f'{tuple(att_maps.shape)}; expected [1, {k}, h\', w\']')
        else:
            gh, gw = (int(g) for g in att_maps.shape[-2:])
            analysis.unit_grid = (gh, gw)
            analysis.unit_attribute_scores = as_numpy(att_maps[0].reshape(k, gh * gw).t())
    return analysis
