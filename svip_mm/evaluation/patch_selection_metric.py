"""How well the patch selector separates object from background, against ground-truth masks.

SVIP's selector marks, at the input, the units (square blocks of patches) that carry no
attribute information; inference keeps the others. On data with foreground masks (the
synthetic dataset) this module measures that decision. Everything below the metric class is
a pure numpy function usable from notebooks and tests.

Definitions (shapes: ``N`` images, ``U`` units on a square ``g x g`` grid in raster order,
``U = g * g``; masks ``[H, W]``):

- Foreground fraction of a unit: the mean of the image's foreground mask over the pixels of
  the unit. The unit grid is laid over the mask itself: pixel row ``r`` belongs to unit row
  ``floor(r * g / H)`` (likewise for columns), i.e. exact ``H/g x W/g`` blocks when ``g``
  divides the mask size. Because it is computed at the mask's resolution, it holds for any
  resize of the whole image, not for crops or flips.
- Background unit: a unit whose foreground fraction is below ``fg_threshold`` (default 0.1:
  at least 90% of its pixels are background). Every other unit is a foreground unit: it shows
  some of the object, so it carries attribute information.
- AUROC (in [0, 1]) of a score for "background unit": the probability that a random
  background unit scores higher than a random foreground unit, ties counting one half
  (the Mann-Whitney statistic, from average ranks). 0.5 is chance; a selector that gives
  every unit the same score (e.g. one that predicts "keep" everywhere) scores exactly 0.5.
  ``'pooled'``: over all units of all images together; ``'per_image'``: within each image,
  averaged over the images that have both kinds of units (what a top-k choice per image
  depends on).
- Precision of a kept set (percent): the fraction of kept units that are foreground units,
  pooled over images. Reported beside it: ``chance_precision`` (the fraction of all units
  that are foreground: the expected precision of a random kept set) and ``max_precision``
  (``sum_i min(k_i, F_i) / sum_i k_i`` for ``k_i`` kept and ``F_i`` foreground units: the
  best any kept set of those sizes can do).
- Two scorers: the selector (score = ``selector_prob``, the sigmoid of its "semantic-
  unrelated" logit; kept set = ``keep_mask``, what inference uses) and the attention of the
  source pass (score = ``-attention_unit_scores``, since high attention means relevant; kept
  set = the top-k units by attention with the same ``k`` as ``keep_mask``, ties to the lower
  unit index): the labels the selector is trained from.
"""
import math
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from .sample_fields import sample_field
from .zsl_accuracy import as_numpy

__all__ = [
    'PatchSelectionMetric', 'unit_foreground_fraction', 'binary_auroc', 'per_image_auroc',
    'topk_keep', 'kept_precision', 'patch_selection_scores'
]

AUROC_MODES = ('pooled', 'per_image')

# where the fields come from, for error messages
_FIELD_SOURCES = {
    'selector_prob': 'SVIPClassifier.predict sets it (the model must be an SVIPClassifier)',
    'keep_mask': 'SVIPClassifier.predict sets it (the model must be an SVIPClassifier)',
    'attention_unit_scores': "set by SVIPClassifier.predict when the model config has "
                             "predict_attention=True",
}


def _mask_hint(key: str) -> str:
    return (f"add dict(type='LoadForegroundMask') after LoadImageFromFile in the test pipeline "
            f"and '{key}' to PackInputs(algorithm_keys=[...]); the masks come with the "
            'ZSLSynthetic dataset (fg_mask_path)')


def unit_foreground_fraction(mask, num_units: int) -> np.ndarray:
    """Foreground fraction of each unit of one image.

    Args:
        mask: ``[H, W]`` foreground mask: bool, numbers in [0, 1] (soft masks allowed), or an
            'L' image of 0..255 (uint8 with values above 1, foreground from 128).
        num_units: ``U``, a square number (the unit grid is ``sqrt(U) x sqrt(U)``, raster
            order, as :func:`svip_mm.models.utils.patches_to_units` numbers units).

    Returns:
        float64 ``[U]`` in [0, 1].

    Raises:
        ValueError: ``U`` not a square, the mask not 2-D, smaller than the grid, or with
        values out of range.
    """
    m = as_numpy(mask)
    if m.ndim != 2:
        raise ValueError(f'foreground mask must be [H, W], got shape {tuple(m.shape)}')
    g = math.isqrt(int(num_units)) if int(num_units) > 0 else 0
    if g < 1 or g * g != int(num_units):
        raise ValueError(f'{num_units} units do not form a square grid; expected U = g * g')
    h, w = m.shape
    if h < g or w < g:
        raise ValueError(f'foreground mask {h}x{w} is smaller than the {g}x{g} unit grid')
    if m.dtype == np.bool_:
        m = m.astype(np.float64)
    elif m.dtype == np.uint8 and m.max(initial=0) > 1:
        m = (m >= 128).astype(np.float64)
    else:
        m = m.astype(np.float64)
        if not np.all((m >= 0) & (m <= 1)):
            raise ValueError('foreground mask values must lie in [0, 1] (or be a 0..255 uint8 '
                             f'image), got range [{np.nanmin(m)}, {np.nanmax(m)}]')
    unit = ((np.arange(h) * g) // h)[:, None] * g + ((np.arange(w) * g) // w)[None, :]
    fg = np.bincount(unit.ravel(), weights=m.ravel(), minlength=g * g)
    count = np.bincount(unit.ravel(), minlength=g * g)
    return fg / count


def binary_auroc(scores, positives) -> float:
    """Area under the ROC curve of ``scores`` for the ``positives`` (rank-based, ties = 1/2).

    Args:
        scores: ``[M]`` finite scores, higher = more likely positive.
        positives: ``[M]`` bool.

    Returns:
        AUROC in [0, 1].

    Raises:
        ValueError: shapes differ, scores not finite, or only one class present (AUROC is
        undefined).
    """
    s = as_numpy(scores).astype(np.float64).reshape(-1)
    p = as_numpy(positives).astype(bool).reshape(-1)
    if s.shape != p.shape:
        raise ValueError(f'{s.size} scores for {p.size} labels; expected one score per label')
    if not np.all(np.isfinite(s)):
        raise ValueError('scores contain NaN or infinite values')
    n_pos = int(p.sum())
    n_neg = p.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f'AUROC is undefined with {n_pos} positives and {n_neg} negatives; '
                         'expected both')
    order = np.argsort(s, kind='mergesort')
    sorted_s = s[order]
    # average 1-based rank of every run of equal scores
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], s.size]
    run_rank = (starts + 1 + ends) / 2.0
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(run_rank, ends - starts)
    u = ranks[p].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def per_image_auroc(scores, positives) -> float:
    """Mean over images of :func:`binary_auroc` within each image.

    Args:
        scores: ``[N, U]``; positives: ``[N, U]`` bool.

    Returns:
        the mean over the images that have both positive and negative units; NaN when none
        has.
    """
    s = as_numpy(scores)
    p = as_numpy(positives).astype(bool)
    if s.ndim != 2 or s.shape != p.shape:
        raise ValueError(f'scores {tuple(s.shape)} and labels {tuple(p.shape)} must both be '
                         '[N, U]')
    values = [binary_auroc(s[i], p[i]) for i in range(s.shape[0]) if 0 < p[i].sum() < p.shape[1]]
    return float(np.mean(values)) if values else float('nan')


def topk_keep(scores, k) -> np.ndarray:
    """Keep the ``k`` highest-scoring units of each image.

    Args:
        scores: ``[N, U]``.
        k: an int or ``[N]`` ints in 0..U.

    Returns:
        bool ``[N, U]``; among equal scores the lower unit index is kept first.
    """
    s = as_numpy(scores).astype(np.float64)
    if s.ndim != 2:
        raise ValueError(f'scores must be [N, U], got shape {tuple(s.shape)}')
    n, u = s.shape
    ks = np.broadcast_to(np.asarray(k, dtype=np.int64), (n, ))
    if np.any((ks < 0) | (ks > u)):
        raise ValueError(f'k must lie in 0..{u}, got {sorted(set(ks.tolist()))}')
    order = np.argsort(-s, axis=1, kind='stable')
    keep = np.zeros((n, u), dtype=bool)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(u)[None].repeat(n, 0), axis=1)
    keep[:] = ranks < ks[:, None]
    return keep


def kept_precision(keep, is_foreground) -> float:
    """Percent of kept units that are foreground units, pooled over images.

    Args:
        keep: ``[N, U]`` bool; is_foreground: ``[N, U]`` bool.

    Returns:
        precision in percent; NaN when nothing is kept.
    """
    keep = as_numpy(keep).astype(bool)
    fg = as_numpy(is_foreground).astype(bool)
    if keep.shape != fg.shape:
        raise ValueError(f'keep mask {tuple(keep.shape)} and foreground {tuple(fg.shape)} '
                         'differ in shape')
    n_kept = int(keep.sum())
    return 100.0 * float((keep & fg).sum()) / n_kept if n_kept else float('nan')


def patch_selection_scores(fg_fraction, selector_prob, keep_mask,
                           attention_unit_scores=None, fg_threshold: float = 0.1,
                           auroc: str = 'pooled') -> Dict[str, float]:
    """All patch-selection figures of the module docstring from arrays.

    Args:
        fg_fraction: ``[N, U]`` foreground fraction per unit (:func:`unit_foreground_fraction`).
        selector_prob: ``[N, U]`` the selector's probability of "semantic-unrelated".
        keep_mask: ``[N, U]`` bool, the units inference kept.
        attention_unit_scores: optional ``[N, U]`` aggregated attention of the source pass
            (higher = more relevant).
        fg_threshold: a unit with a foreground fraction below it is a background unit.
        auroc: ``'pooled'`` or ``'per_image'`` (see the module docstring).

    Returns:
        dict (AUROC in [0, 1], the rest in percent):
        ``selection/selector_auroc``, ``selection/selector_precision``,
        ``selection/attention_auroc``, ``selection/attention_precision`` (with attention),
        ``selection/chance_precision``, ``selection/max_precision``,
        ``selection/background_units`` (percent of units that are background). An AUROC is
        NaN when the evaluated units are all background or all foreground.
    """
    if auroc not in AUROC_MODES:
        raise ValueError(f'auroc must be one of {list(AUROC_MODES)}, got {auroc!r}')
    if not 0.0 < float(fg_threshold) <= 1.0:
        raise ValueError(f'fg_threshold must lie in (0, 1], got {fg_threshold!r}')
    fg_fraction = as_numpy(fg_fraction).astype(np.float64)
    if fg_fraction.ndim != 2 or fg_fraction.shape[0] == 0:
        raise ValueError(f'fg_fraction must be [N, U] with N >= 1, got shape '
                         f'{tuple(fg_fraction.shape)}')
    shape = fg_fraction.shape
    arrays = dict(selector_prob=selector_prob, keep_mask=keep_mask)
    if attention_unit_scores is not None:
        arrays['attention_unit_scores'] = attention_unit_scores
    arrays = {k: as_numpy(v) for k, v in arrays.items()}
    for name, arr in arrays.items():
        if arr.shape != shape:
            raise ValueError(f'{name} has shape {tuple(arr.shape)}, expected {shape} (one value '
                             'per unit of every image, like fg_fraction)')
    background = fg_fraction < float(fg_threshold)
    foreground = ~background
    keep = arrays['keep_mask'].astype(bool)

    def area(score: np.ndarray) -> float:
        if auroc == 'per_image':
            return per_image_auroc(score, background)
        if background.all() or foreground.all():
            return float('nan')
        return binary_auroc(score, background)

    k = keep.sum(axis=1)
    n_fg = foreground.sum(axis=1)
    out = {
        'selection/selector_auroc': area(arrays['selector_prob'].astype(np.float64)),
        'selection/selector_precision': kept_precision(keep, foreground),
    }
    if 'attention_unit_scores' in arrays:
        attn = arrays['attention_unit_scores'].astype(np.float64)
        out['selection/attention_auroc'] = area(-attn)
        out['selection/attention_precision'] = kept_precision(topk_keep(attn, k), foreground)
    out['selection/chance_precision'] = 100.0 * float(foreground.mean())
    out['selection/max_precision'] = (100.0 * float(np.minimum(k, n_fg).sum()) / k.sum()
                                      if k.sum() else float('nan'))
    out['selection/background_units'] = 100.0 * float(background.mean())
    return out


def _field(sample: Any, key: str, hint: str) -> Any:
    return sample_field(sample, key, 'PatchSelectionMetric', hint)


def _vector(sample: Any, key: str, hint: str) -> np.ndarray:
    """Field ``key`` of a sample as a 1-D numpy array ``[U]`` (``[1, U]`` is squeezed)."""
    value = _field(sample, key, hint)
    if hasattr(value, 'is_floating_point') and value.is_floating_point():
        value = value.detach().float()  # bf16 / fp16 have no numpy dtype
    arr = as_numpy(value)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise ValueError(f"PatchSelectionMetric: '{key}' has shape {tuple(arr.shape)}, expected "
                         '[U] (one value per unit)')
    return arr


@METRICS.register_module()
class PatchSelectionMetric(BaseMetric):
    """Selector AUROC for background units and precision of the kept set, from GT masks.

    Definitions in the module docstring. Every predicted sample must carry:

    - ``gt_fg_mask`` (name set by ``mask_key``): ``[H, W]`` foreground mask, from
      ``LoadForegroundMask`` + ``PackInputs(algorithm_keys=[..., 'gt_fg_mask'])`` on a dataset
      with masks (``ZSLSynthetic``);
    - ``selector_prob`` ``[U]`` and ``keep_mask`` ``[U]`` (set by ``SVIPClassifier.predict``);
    - ``attention_unit_scores`` ``[U]`` for the attention figures (set when the model config
      has ``predict_attention=True``).

    Reported keys: ``selection/selector_auroc``, ``selection/selector_precision``,
    ``selection/attention_auroc``, ``selection/attention_precision`` (when attention is
    evaluated), ``selection/chance_precision``, ``selection/max_precision``,
    ``selection/background_units``; AUROC in [0, 1], the rest in percent.

    Args:
        fg_threshold: a unit whose foreground fraction is below it is a background unit.
            Defaults to 0.1.
        attention: ``'auto'`` (attention figures when the samples carry
            ``attention_unit_scores``), ``True`` (required: an error when absent) or ``False``.
        auroc: ``'pooled'`` (default) or ``'per_image'``.
        mask_key: the data-sample field holding the mask. Defaults to ``'gt_fg_mask'``.
        collect_device, prefix, collect_dir: see :class:`mmengine.evaluator.BaseMetric`.

    Example config (beside the GZSL metric)::

        model = dict(predict_attention=True)  # for the attention figures
        test_evaluator = [dict(type='GZSLMetric'), dict(type='PatchSelectionMetric')]
    """
    default_prefix: Optional[str] = ''

    def __init__(self,
                 fg_threshold: float = 0.1,
                 attention: Union[bool, str] = 'auto',
                 auroc: str = 'pooled',
                 mask_key: str = 'gt_fg_mask',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        try:
            self.fg_threshold = float(fg_threshold)
        except (TypeError, ValueError):
            raise ValueError('PatchSelectionMetric: fg_threshold must be a number in (0, 1], '
                             f'got {fg_threshold!r}') from None
        if not 0.0 < self.fg_threshold <= 1.0:
            raise ValueError('PatchSelectionMetric: fg_threshold must lie in (0, 1], got '
                             f'{fg_threshold!r}')
        if attention not in ('auto', True, False):
            raise ValueError("PatchSelectionMetric: attention must be 'auto', True or False, got "
                             f'{attention!r}')
        if auroc not in AUROC_MODES:
            raise ValueError(f'PatchSelectionMetric: auroc must be one of {list(AUROC_MODES)}, '
                             f'got {auroc!r}')
        self.attention = attention
        self.auroc = auroc
        self.mask_key = mask_key

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store per sample the unit foreground fractions ``fg`` [U], ``selector_prob`` [U],
        ``keep`` [U] and, if evaluated, ``attention`` [U] (numpy, small)."""
        for sample in data_samples:
            prob = _vector(sample, 'selector_prob', _FIELD_SOURCES['selector_prob'])
            keep = _vector(sample, 'keep_mask', _FIELD_SOURCES['keep_mask'])
            if keep.shape != prob.shape:
                raise ValueError(f"PatchSelectionMetric: 'keep_mask' has {keep.size} units but "
                                 f"'selector_prob' has {prob.size}; expected the same U")
            record = dict(prob=prob.astype(np.float32), keep=keep.astype(bool))
            has_attn = 'attention_unit_scores' in sample
            if self.attention is True or (self.attention == 'auto' and has_attn):
                attn = _vector(sample, 'attention_unit_scores',
                               _FIELD_SOURCES['attention_unit_scores'])
                if attn.shape != prob.shape:
                    raise ValueError(f"PatchSelectionMetric: 'attention_unit_scores' has "
                                     f'{attn.size} units, expected {prob.size}')
                record['attention'] = attn.astype(np.float32)
            mask = _field(sample, self.mask_key, _mask_hint(self.mask_key))
            try:
                record['fg'] = unit_foreground_fraction(mask, prob.size).astype(np.float32)
            except ValueError as err:
                path = sample.get('img_path', '?') if isinstance(sample, Mapping) else '?'
                raise ValueError(f"PatchSelectionMetric: '{self.mask_key}' of {path}: {err}"
                                 ) from None
            self.results.append(record)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """The figures of :func:`patch_selection_scores` over the records of all ranks."""
        if not results:
            raise ValueError('PatchSelectionMetric: no samples were evaluated')
        n_attn = sum('attention' in r for r in results)
        if 0 < n_attn < len(results):
            raise ValueError(f'PatchSelectionMetric: {n_attn} of {len(results)} samples carry '
                             "'attention_unit_scores'; expected all or none")
        units = {r['prob'].size for r in results}
        if len(units) > 1:
            raise ValueError(f'PatchSelectionMetric: samples have different unit counts '
                             f'{sorted(units)}; expected one U')
        metrics = patch_selection_scores(
            np.stack([r['fg'] for r in results]), np.stack([r['prob'] for r in results]),
            np.stack([r['keep'] for r in results]),
            np.stack([r['attention'] for r in results]) if n_attn else None,
            fg_threshold=self.fg_threshold, auroc=self.auroc)
        self._log(metrics, len(results))
        return metrics

    def _log(self, m: Dict[str, float], n: int) -> None:
        logger = MMLogger.get_current_instance()
        undefined = [k for k, v in m.items() if k.endswith('auroc') and np.isnan(v)]
        if undefined:
            logger.warning(f'PatchSelectionMetric: {undefined} undefined: the evaluated units '
                           f'are all background or all foreground (fg_threshold='
                           f'{self.fg_threshold})')
        lines = [f'Patch selection on {n} images ({m["selection/background_units"]:.1f}% of '
                 f'units are background: foreground fraction < {self.fg_threshold:g}); '
                 f'AUROC ({self.auroc}) for "background unit", precision of the kept set on '
                 f'foreground units (chance {m["selection/chance_precision"]:.1f}%, best '
                 f'possible {m["selection/max_precision"]:.1f}%)']
        for who in ('selector', 'attention'):
            if f'selection/{who}_auroc' in m:
                lines.append(f'  {who:<10} AUROC {m[f"selection/{who}_auroc"]:.3f}   precision '
                             f'{m[f"selection/{who}_precision"]:.1f}%')
        logger.info('\n'.join(lines))
