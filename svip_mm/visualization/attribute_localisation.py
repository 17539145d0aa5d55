"""Attribute localisation: which units score the top predicted attributes highest.

The attribute head scores every final unit separately (``head.fc(units)``, ``[U, K]``) and
pools over units; for an attribute the per-unit scores show where in the image the model
finds it. :func:`localise_attributes` is the computation, :func:`plot_attribute_localisation`
draws one panel per attribute (labels ``'attribute_<k>'``): the per-unit scores over the image
(``AxesImage`` gid ``'unit_values'``, with a labelled colourbar), the highest-scoring unit
outlined (``Rectangle`` gid ``'best_unit'``). Units are named in the titles by their 1-based
(row, col) from the top left, and the axes' ticks number the unit rows and columns.
"""
from typing import List, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .grid import (add_colorbar, as_numpy, grid_extent, label_unit_axes, resolve_unit_grid,
                   unit_boxes, unit_row_col)

__all__ = ['localise_attributes', 'draw_attribute_localisation', 'plot_attribute_localisation']

PANEL_INCHES = 2.2


def localise_attributes(unit_attribute_scores, attribute_scores=None, top: int = 4,
                        attributes: Optional[Sequence[int]] = None) -> List[dict]:
    """For the top attributes, the unit that scores each highest.

    Args:
        unit_attribute_scores: ``[U, K]`` per-unit attribute scores.
        attribute_scores: ``[K]`` pooled attribute prediction used to rank the attributes
            (default: the mean over units, i.e. mean pooling).
        top: how many attributes, highest pooled score first.
        attributes: explicit attribute indices instead of the top ones.

    Returns:
        one dict per attribute: ``attribute`` (index), ``score`` (pooled), ``best_unit``
        (raster index of the highest-scoring unit; ties to the lowest index),
        ``best_score`` and ``unit_scores`` (``[U]``).
    """
    scores = as_numpy(unit_attribute_scores, np.float64)
    if scores.ndim != 2:
        raise ValueError(f'unit_attribute_scores must be [U, K], got shape {scores.shape}')
    pooled = scores.mean(0) if attribute_scores is None else \
        as_numpy(attribute_scores, np.float64).reshape(-1)
    if pooled.size != scores.shape[1]:
        raise ValueError(f'attribute_scores has {pooled.size} values but unit_attribute_scores '
                         f'has K = {scores.shape[1]} attributes')
    if attributes is None:
        if not 1 <= top <= pooled.size:
            raise ValueError(f'top={top} is outside 1..{pooled.size} (the number of attributes)')
        attributes = np.argsort(-pooled, kind='stable')[:top]
    out = []
    for a in attributes:
        a = int(a)
        if not 0 <= a < pooled.size:
            raise ValueError(f'attribute index {a} is outside 0..{pooled.size - 1}')
        column = scores[:, a]
        best = int(np.argmax(column))
        out.append(dict(attribute=a, score=float(pooled[a]), best_unit=best,
                        best_score=float(column[best]), unit_scores=column))
    return out


def draw_attribute_localisation(fig, image: np.ndarray, unit_attribute_scores,
                                attribute_scores=None,
                                attribute_names: Optional[Sequence[str]] = None,
                                unit_grid: Optional[Sequence[int]] = None,
                                covered_hw: Optional[Sequence[int]] = None, top: int = 4,
                                attributes: Optional[Sequence[int]] = None,
                                ncols: Optional[int] = None) -> list:
    """Draw one panel per localised attribute into ``fig`` (a Figure or SubFigure).

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        unit_attribute_scores, attribute_scores, top, attributes: as in
            :func:`localise_attributes`.
        attribute_names: ``K`` names for the titles (default ``attribute <k>``).
        unit_grid: ``(gh, gw)``; default the square grid of ``U`` units.
        covered_hw: pixels covered by the grid (default: the whole image).

    Returns:
        the axes, one per attribute, in ranking order.
    """
    found = localise_attributes(unit_attribute_scores, attribute_scores, top, attributes)
    n_units = as_numpy(unit_attribute_scores).shape[0]
    grid = resolve_unit_grid(n_units, unit_grid, 'unit_attribute_scores')
    cov = grid_extent(image.shape[:2], covered_hw)
    boxes = unit_boxes(grid, cov)
    ncols = ncols or len(found)
    nrows = -(-len(found) // ncols)
    axes = []
    for i, item in enumerate(found):
        a = item['attribute']
        name = attribute_names[a] if attribute_names is not None else f'attribute {a}'
        ax = fig.add_subplot(nrows, ncols, i + 1, label=f'attribute_{a}')
        ax.imshow(image)
        im = ax.imshow(item['unit_scores'].reshape(grid), cmap='viridis', alpha=0.6,
                       extent=(0, cov[1], cov[0], 0), interpolation='nearest')
        im.set_gid('unit_values')
        x0, y0, bw, bh = boxes[item['best_unit']]
        ax.add_patch(Rectangle((x0, y0), bw, bh, fill=False, edgecolor='red', linewidth=2,
                               gid='best_unit'))
        add_colorbar(ax, im, 'attribute score per unit')
        ax.set_xlim(0, image.shape[1])
        ax.set_ylim(image.shape[0], 0)
        label_unit_axes(ax, grid, cov)
        row, col = unit_row_col(item['best_unit'], grid)
        ax.set_title(f'{name}\npredicted for the image: {item["score"]:.2f}\n'
                     f'highest unit: row {row}, col {col} (red box)', fontsize=7)
        axes.append(ax)
    return axes


def plot_attribute_localisation(image: np.ndarray, unit_attribute_scores,
                                attribute_scores=None,
                                attribute_names: Optional[Sequence[str]] = None,
                                unit_grid: Optional[Sequence[int]] = None,
                                covered_hw: Optional[Sequence[int]] = None, top: int = 4,
                                attributes: Optional[Sequence[int]] = None,
                                title: Optional[str] = None) -> Figure:
    """A figure of :func:`draw_attribute_localisation` (see there for the arguments)."""
    n = len(attributes) if attributes is not None else top
    fig = Figure(figsize=(PANEL_INCHES * max(n, 1), PANEL_INCHES + 0.1), layout='constrained')
    draw_attribute_localisation(fig, image, unit_attribute_scores, attribute_scores,
                                attribute_names, unit_grid, covered_hw, top, attributes)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
