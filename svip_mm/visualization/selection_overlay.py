"""The selector's decision on one image: kept vs contextualised units, and its probabilities.

Panels (labels, ``ax.get_label()``):

- ``'selection'``: the image; every kept unit outlined (a ``Rectangle`` with gid ``'kept'``),
  every other unit shaded and hatched (gid ``'contextualised'``: it receives the context
  token e, which the title says in words).
- ``'selector_prob'``: the selector's probability that each unit is semantic-unrelated, one
  cell per unit over the image (the ``AxesImage`` with gid ``'unit_values'``), values written
  in the cells when the grid has at most 100 units.
- ``'attention_units'`` (when given): the source pass's aggregated attention per unit (the
  selector's training signal; each cell shows its rank, 1 = most attended), with the k most
  attended units outlined (gid ``'kept'``, k = the number of kept units).
- ``'ground_truth'`` (when a mask is given): the foreground mask, each unit's foreground
  fraction written in it, background units (fraction below ``fg_threshold``) crossed out
  (gid ``'background'``) and the kept units outlined as in ``'selection'``.

Heat maps carry a colourbar with a labelled scale (``im.colorbar``); numbers written in cells
are white with a black outline, legible on light and dark cells.
"""
from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..evaluation.patch_selection_metric import unit_foreground_fraction
from .grid import OUTLINED, add_colorbar, as_numpy, grid_extent, resolve_unit_grid, unit_boxes

__all__ = ['draw_selection', 'plot_selection', 'selection_panel_labels', 'resize_mask']

PANEL_INCHES = 2.4
KEPT_COLOR = '#00e000'

# what happens to a unit that is not kept, by the neck's context_mode (docs/method.md, section 3)
CONTEXT_WORDS = {
    'add': 'get the context token e added',
    'replace': 'are replaced by the context token e',
    'drop': 'are zeroed (no context token)',
    None: 'receive the context token e',
}


def selection_title(kept: int, total: int, unit_px: Sequence[float],
                    context_mode: Optional[str] = None,
                    by_selector: Optional[bool] = True) -> str:
    """The title of the selection panel, in words: how many units are kept (by the selector,
    by another rule such as oracle selection, or None: not known), how large a unit is and
    what happens to the others."""
    h, w = (f'{v:g}' for v in unit_px)
    others = CONTEXT_WORDS.get(context_mode, CONTEXT_WORDS[None])
    who = {True: 'selector keeps', False: 'kept (not by the selector):', None: 'kept:'}[
        by_selector]
    return (f'{who} {kept} of {total} units\n({h}x{w} px, green boxes); '
            f'the other {total - kept}\n(hatched) {others}')


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
    ax.set_title(title, fontsize=7)


def _outline(ax, boxes, mask, gid='kept', color=KEPT_COLOR):
    for (x0, y0, bw, bh), on in zip(boxes, mask):
        if on:
            ax.add_patch(Rectangle((x0, y0), bw, bh, fill=False, edgecolor=color, linewidth=1.6,
                                   gid=gid))


def _cell_text(ax, boxes, texts, n):
    """One outlined label per unit (only up to 100 units: beyond, they would not fit)."""
    if n > 100:
        return
    size = 7 if n <= 25 else 5
    for (x0, y0, bw, bh), text in zip(boxes, texts):
        ax.text(x0 + bw / 2, y0 + bh / 2, text, ha='center', va='center', fontsize=size,
                color='white', path_effects=OUTLINED)


def _unit_values(ax, values, grid, extent, boxes, cmap, scale, vmin=None, vmax=None,
                 fmt='{:.2f}', texts=None):
    """``values`` [U] as one cell per unit over the image, with a colourbar labelled
    ``scale``; ``texts`` [U] (default the values) written in the cells with ``fmt``."""
    im = ax.imshow(values.reshape(grid), cmap=cmap, alpha=0.65, extent=extent,
                   interpolation='nearest', vmin=vmin, vmax=vmax)
    im.set_gid('unit_values')
    add_colorbar(ax, im, scale)
    _cell_text(ax, boxes, [fmt.format(v) for v in (values if texts is None else texts)],
               values.size)
    return im


def draw_selection(fig, image: np.ndarray, keep_mask, selector_prob=None,
                   unit_grid: Optional[Sequence[int]] = None,
                   covered_hw: Optional[Sequence[int]] = None,
                   attention_unit_scores=None, gt_mask=None, fg_threshold: float = 0.1,
                   ncols: Optional[int] = None, context_mode: Optional[str] = None) -> list:
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
        ncols: panels per row (default: all in one row).
        context_mode: the neck's ``context_mode`` (``'add'``, ``'replace'``, ``'drop'``), to
            say in the title what the units that are not kept receive.

    Returns:
        the axes in the order of :func:`selection_panel_labels`.
    """
    keep = as_numpy(keep_mask).reshape(-1).astype(bool)
    grid = resolve_unit_grid(keep.size, unit_grid, 'keep_mask')
    cov = grid_extent(image.shape[:2], covered_hw)
    extent = (0, cov[1], cov[0], 0)
    boxes = unit_boxes(grid, cov)
    k, n = int(keep.sum()), keep.size
    unit_px = (cov[0] / grid[0], cov[1] / grid[1])
    prob = None if selector_prob is None else as_numpy(selector_prob, np.float64).reshape(-1)
    if prob is not None and prob.size != n:
        raise ValueError(f'selector_prob has {prob.size} values; expected one per unit ({n})')
    # inference keeps the k lowest P(unrelated); oracle selection (from the mask) need not
    by_selector = None if prob is None else bool(
        k in (0, n) or prob[keep].max() <= prob[~keep].min())
    panels = []  # (label, drawer)

    def selection(ax):
        _base(ax, image, selection_title(k, n, unit_px, context_mode, by_selector))
        for (x0, y0, bw, bh), on in zip(boxes, keep):
            if not on:
                ax.add_patch(Rectangle((x0, y0), bw, bh, facecolor='black', alpha=0.45,
                                       hatch='//', edgecolor='white', linewidth=0.3,
                                       gid='contextualised'))
        _outline(ax, boxes, keep)
    panels.append(('selection', selection))

    if prob is not None:
        rule = (f'the {k} lowest are kept' if by_selector else
                f'the {k} kept units are not its {k} lowest')

        def selector(ax):
            _base(ax, image, f"selector's probability that a unit\nis semantically "
                             f"unrelated\n({rule})")
            _unit_values(ax, prob, grid, extent, boxes, 'coolwarm', 'P(unrelated)', 0.0, 1.0)
        panels.append(('selector_prob', selector))

    if attention_unit_scores is not None:
        att = as_numpy(attention_unit_scores, np.float64).reshape(-1)
        if att.size != n:
            raise ValueError(f'attention_unit_scores has {att.size} values; expected one per '
                             f'unit ({n})')
        top = np.zeros(n, bool)
        top[np.argsort(-att, kind='stable')[:k]] = True

        def attention(ax):
            _base(ax, image, f'aggregated attention per unit (colour),\nits rank written '
                             f'in (1 = highest);\ntop {k} boxed: what the selector learns')
            ranks = np.empty(n, int)
            ranks[np.argsort(-att, kind='stable')] = np.arange(1, n + 1)
            _unit_values(ax, att, grid, extent, boxes, 'inferno', 'attention per unit',
                         texts=ranks, fmt='{}')
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
            _base(ax, image, f'true object (white): {fg_kept} of the {k} kept\nunits are on '
                             f'it; number = object\nshare of the unit, red line: '
                             f'< {fg_threshold:g}')
            ax.imshow(shown, cmap='gray', alpha=0.7, vmin=0, vmax=1, extent=None)
            for (x0, y0, bw, bh), bg in zip(boxes, background):
                if bg:
                    ax.plot([x0, x0 + bw], [y0, y0 + bh], color='red', linewidth=0.6,
                            gid='background')
            _cell_text(ax, boxes, [f'{f:.1f}' for f in frac], n)
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
                   title: Optional[str] = None, context_mode: Optional[str] = None) -> Figure:
    """A figure of :func:`draw_selection` (see there for the arguments)."""
    n = len(selection_panel_labels(attention_unit_scores is not None, gt_mask is not None))
    n -= selector_prob is None
    # the colourbars take about as much height from the images as the 3-line titles add
    fig = Figure(figsize=(PANEL_INCHES * n, PANEL_INCHES + 0.1), layout='constrained')
    draw_selection(fig, image, keep_mask, selector_prob, unit_grid, covered_hw,
                   attention_unit_scores, gt_mask, fg_threshold, context_mode=context_mode)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
