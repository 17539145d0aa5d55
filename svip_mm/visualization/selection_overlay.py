"""The selector's decision on one image: kept vs contextualised units, and its probabilities.

Panels (labels, ``ax.get_label()``):

- ``'selection'``: the image; every kept unit outlined (a ``Rectangle`` with gid ``'kept'``),
  every other unit shaded and hatched (gid ``'contextualised'``: it receives the context
  token e).
- ``'selector_prob'``: the selector's probability that each unit is semantic-unrelated, one
  cell per unit over the image (the ``AxesImage`` with gid ``'unit_values'``), values written
  in the cells when the grid has at most 100 units.
- ``'attention_units'`` (when given): the source pass's aggregated attention per unit (the
  selector's training signal; each cell shows its rank, 1 = most attended), with the k most
  attended units outlined (gid ``'kept'``, k = the number of kept units).
- ``'ground_truth'`` (when a mask is given): the foreground mask, each unit's foreground
  fraction written in it, background units (fraction below ``fg_threshold``) crossed out
  (gid ``'background'``) and the kept units outlined as in ``'selection'``.
"""
from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..evaluation.patch_selection_metric import unit_foreground_fraction
from .grid import as_numpy, grid_extent, resolve_unit_grid, unit_boxes

__all__ = ['draw_selection', 'plot_selection', 'selection_panel_labels', 'resize_mask']

PANEL_INCHES = 2.4
KEPT_COLOR = '#00e000'


def selection_panel_labels(with_attention: bool = False, with_mask: bool = False) -> list:
    """The panel labels of a selection figure, in order."""
    return (['selection', 'selector_prob'] + (['attention_units'] if with_attention else []) +
            (['ground_truth'] if with_mask else []))


def resize_mask(mask, hw: Sequence[int]) -> np.ndarray:
    """A ``[h, w]`` mask (bool, 0..1 or 0..255) -> float ``[H, W]`` in 0..1 by nearest
    neighbour (for display over an image of another size; valid for whole-image resizes,
    not for crops)."""
    m = as_numpy(mask).astype(np.float64)
    if m.ndim != 2:
        raise ValueError(f'a foreground mask must be [H, W], got shape {m.shape}')
    if m.max(initial=0) > 1:
        m = (m >= 128).astype(np.float64)
    rows = (np.arange(hw[0]) * m.shape[0] // hw[0]).clip(0, m.shape[0] - 1)
    cols = (np.arange(hw[1]) * m.shape[1] // hw[1]).clip(0, m.shape[1] - 1)
    return m[rows][:, cols]


def _base(ax, image, title):
    ax.imshow(image)
    ax.set_xlim(0, image.shape[1])
    ax.set_ylim(image.shape[0], 0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


def _outline(ax, boxes, mask, gid='kept', color=KEPT_COLOR):
    for (x0, y0, bw, bh), on in zip(boxes, mask):
        if on:
            ax.add_patch(Rectangle((x0, y0), bw, bh, fill=False, edgecolor=color, linewidth=1.6,
                                   gid=gid))


def _unit_values(ax, values, grid, extent, boxes, cmap, vmin=None, vmax=None, fmt='{:.2f}',
                 texts=None):
    im = ax.imshow(values.reshape(grid), cmap=cmap, alpha=0.65, extent=extent,
                   interpolation='nearest', vmin=vmin, vmax=vmax)
    im.set_gid('unit_values')
    if values.size <= 100:
        size = 7 if values.size <= 25 else 5
        for (x0, y0, bw, bh), v in zip(boxes, values if texts is None else texts):
            ax.text(x0 + bw / 2, y0 + bh / 2, fmt.format(v), ha='center', va='center',
                    fontsize=size, color='white')
    return im


def draw_selection(fig, image: np.ndarray, keep_mask, selector_prob=None,
                   unit_grid: Optional[Sequence[int]] = None,
                   covered_hw: Optional[Sequence[int]] = None,
                   attention_unit_scores=None, gt_mask=None, fg_threshold: float = 0.1,
                   ncols: Optional[int] = None) -> list:
    """Draw the selection panels into ``fig`` (a Figure or SubFigure).

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        keep_mask: ``[U]`` bool, True = kept (raster order over the unit grid).
        selector_prob: ``[U]`` probability of "semantic-unrelated" (panel skipped if None).
        unit_grid: ``(gh, gw)``; default the square grid of ``U`` units.
        covered_hw: pixels covered by the grid (default: the whole image).
        attention_unit_scores: ``[U]`` aggregated source-pass attention per unit (optional).
        gt_mask: ``[h, w]`` foreground mask (bool / 0..1 / 'L' 0..255), any resolution: the
            foreground fraction per unit is computed at the mask's resolution, as
            :class:`~svip_mm.evaluation.PatchSelectionMetric` does.
        fg_threshold: a unit with a foreground fraction below this is background.

    Returns:
        the axes in the order of :func:`selection_panel_labels`.
    """
    keep = as_numpy(keep_mask).reshape(-1).astype(bool)
    grid = resolve_unit_grid(keep.size, unit_grid, 'keep_mask')
    cov = grid_extent(image.shape[:2], covered_hw)
    extent = (0, cov[1], cov[0], 0)
    boxes = unit_boxes(grid, cov)
    k, n = int(keep.sum()), keep.size
    panels = []  # (label, drawer)

    def selection(ax):
        _base(ax, image, f'kept {k}/{n} (boxed), e on {n - k}')
        for (x0, y0, bw, bh), on in zip(boxes, keep):
            if not on:
                ax.add_patch(Rectangle((x0, y0), bw, bh, facecolor='black', alpha=0.45,
                                       hatch='//', edgecolor='white', linewidth=0.3,
                                       gid='contextualised'))
        _outline(ax, boxes, keep)
    panels.append(('selection', selection))

    if selector_prob is not None:
        prob = as_numpy(selector_prob, np.float64).reshape(-1)
        if prob.size != n:
            raise ValueError(f'selector_prob has {prob.size} values; expected one per unit '
                             f'({n})')

        def selector(ax):
            _base(ax, image, 'selector P(unrelated)')
            _unit_values(ax, prob, grid, extent, boxes, 'coolwarm', 0.0, 1.0)
        panels.append(('selector_prob', selector))

    if attention_unit_scores is not None:
        att = as_numpy(attention_unit_scores, np.float64).reshape(-1)
        if att.size != n:
            raise ValueError(f'attention_unit_scores has {att.size} values; expected one per '
                             f'unit ({n})')
        top = np.zeros(n, bool)
        top[np.argsort(-att, kind='stable')[:k]] = True

        def attention(ax):
            _base(ax, image, f'attention rank, top {k} boxed')
            ranks = np.empty(n, int)
            ranks[np.argsort(-att, kind='stable')] = np.arange(1, n + 1)
            _unit_values(ax, att, grid, extent, boxes, 'inferno', texts=ranks, fmt='{}')
            _outline(ax, boxes, top)
        panels.append(('attention_units', attention))

    if gt_mask is not None:
        mask = as_numpy(gt_mask)
        frac = unit_foreground_fraction(mask, n) if grid[0] == grid[1] else None
        if frac is None:
            raise ValueError(f'ground-truth masks need a square unit grid, got {grid}')
        background = frac < fg_threshold
        fg_kept = int((keep & ~background).sum())

        def ground_truth(ax):
            shown = resize_mask(mask, image.shape[:2])
            _base(ax, image, f'mask: {fg_kept}/{k} kept on object')
            ax.imshow(shown, cmap='gray', alpha=0.7, vmin=0, vmax=1, extent=None)
            for (x0, y0, bw, bh), f, bg in zip(boxes, frac, background):
                if bg:
                    ax.plot([x0, x0 + bw], [y0, y0 + bh], color='red', linewidth=0.6,
                            gid='background')
                if n <= 100:
                    ax.text(x0 + bw / 2, y0 + bh / 2, f'{f:.1f}', ha='center', va='center',
                            fontsize=6, color='tab:orange')
            _outline(ax, boxes, keep)
        panels.append(('ground_truth', ground_truth))

    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    axes = []
    for i, (label, drawer) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1, label=label)
        drawer(ax)
        axes.append(ax)
    return axes


def plot_selection(image: np.ndarray, keep_mask, selector_prob=None,
                   unit_grid: Optional[Sequence[int]] = None,
                   covered_hw: Optional[Sequence[int]] = None, attention_unit_scores=None,
                   gt_mask=None, fg_threshold: float = 0.1,
                   title: Optional[str] = None) -> Figure:
    """A figure of :func:`draw_selection` (see there for the arguments)."""
    n = len(selection_panel_labels(attention_unit_scores is not None, gt_mask is not None))
    n -= selector_prob is None
    fig = Figure(figsize=(PANEL_INCHES * n, PANEL_INCHES + 0.4), layout='constrained')
    draw_selection(fig, image, keep_mask, selector_prob, unit_grid, covered_hw,
                   attention_unit_scores, gt_mask, fg_threshold)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
