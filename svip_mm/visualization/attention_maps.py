"""Per-layer CLS attention and its aggregation (rollout) over the image.

One panel for the image, one per layer (the CLS token's head-mean attention to every patch
in that layer of the source pass) and one for the aggregated map the selector labels come
from. Each map is drawn at patch resolution (one cell per patch, nearest interpolation) over
the image; the drawn array is the map itself, not a resampled copy. Panels are labelled
(``ax.get_label()``): ``'image'``, ``'layer_1'`` ... ``'layer_L'``, ``'aggregated'``; the map
of each is the ``AxesImage`` with gid ``'attention'``, with a labelled colourbar (its scale
differs per layer, so each map has its own).
"""
import math
from typing import List, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from .grid import add_colorbar, as_numpy, grid_extent

__all__ = ['draw_attention_maps', 'plot_attention_maps', 'attention_panel_labels']

PANEL_INCHES = 2.0

# what each aggregation of the neck computes (docs/method.md, section 2), for the panel title
AGGREGATION_TITLES = {
    'rollout': 'attention rollout of all {L} layers',
    'paper': 'paper Eq. 4 over all {L} layers',
    'last': 'layer {L} attention alone',
}


def aggregated_title(aggregation: str, num_layers: int, selector_target: bool = True) -> str:
    """The title of the aggregated panel: what the aggregation is and, for SVIP
    (``selector_target``), what it is for."""
    template = AGGREGATION_TITLES.get(aggregation, aggregation + ' over all {L} layers')
    return template.format(L=num_layers) + (
        "\n(selector's training target)" if selector_target else '')


def attention_panel_labels(num_layers: int) -> List[str]:
    """The panel labels of an attention figure with ``num_layers`` layers, in order."""
    return ['image'] + [f'layer_{i + 1}' for i in range(num_layers)] + ['aggregated']


def _check_maps(layer_attention, aggregated, patch_grid):
    layers = as_numpy(layer_attention, np.float64)
    agg = as_numpy(aggregated, np.float64).reshape(-1)
    h, w = int(patch_grid[0]), int(patch_grid[1])
    if layers.ndim != 2 or layers.shape[1] != h * w:
        raise ValueError(f'layer_attention must be [L, h*w] = [L, {h * w}] for the patch grid '
                         f'{h}x{w}, got shape {layers.shape}')
    if agg.size != h * w:
        raise ValueError(f'the aggregated attention has {agg.size} values; expected h*w = '
                         f'{h * w} for the patch grid {h}x{w}')
    return layers, agg, h, w


def draw_attention_maps(fig, image: np.ndarray, layer_attention, aggregated,
                        patch_grid: Sequence[int], covered_hw: Optional[Sequence[int]] = None,
                        aggregation: str = 'rollout', ncols: Optional[int] = None,
                        alpha: float = 0.6, cmap: str = 'inferno',
                        selector_target: bool = True) -> list:
    """Draw the attention panels into ``fig`` (a Figure or SubFigure).

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        layer_attention: ``[L, h*w]`` CLS-to-patch attention per layer (raster order).
        aggregated: ``[h*w]`` the aggregated CLS relevance (e.g. :func:`attention_rollout`).
        patch_grid: ``(h, w)``.
        covered_hw: pixels covered by the patch grid (default: the whole image).
        aggregation: its name, for the panel title.
        ncols: panels per row (default: all in one row up to 7).
        alpha: opacity of the maps over the image.
        selector_target: the aggregated map is SVIP's selector target (said in its title);
            False for a model without a selector.

    Returns:
        the axes, in the order of :func:`attention_panel_labels`.
    """
    layers, agg, h, w = _check_maps(layer_attention, aggregated, patch_grid)
    cov_h, cov_w = grid_extent(image.shape[:2], covered_hw)
    extent = (0, cov_w, cov_h, 0)
    labels = attention_panel_labels(len(layers))
    ncols = ncols or min(len(labels), 7)
    nrows = math.ceil(len(labels) / ncols)
    maps = [None] + list(layers) + [agg]
    titles = (['input image'] +
              [f'layer {i + 1}: CLS attention\nto each patch (head mean)'
               for i in range(len(layers))] +
              [aggregated_title(aggregation, len(layers), selector_target)])
    agg_scale = {'rollout': 'rollout score', 'last': 'attention weight'}.get(aggregation,
                                                                           'aggregated score')
    scales = [None] + ['attention weight'] * len(layers) + [agg_scale]
    axes = []
    for i, (label, title, values, scale) in enumerate(zip(labels, titles, maps, scales)):
        ax = fig.add_subplot(nrows, ncols, i + 1, label=label)
        ax.imshow(image)
        if values is not None:
            im = ax.imshow(values.reshape(h, w), cmap=cmap, alpha=alpha, extent=extent,
                           interpolation='nearest')
            im.set_gid('attention')
            add_colorbar(ax, im, scale)
        ax.set_xlim(0, image.shape[1])
        ax.set_ylim(image.shape[0], 0)
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
        axes.append(ax)
    return axes


def plot_attention_maps(image: np.ndarray, layer_attention, aggregated,
                        patch_grid: Sequence[int], covered_hw: Optional[Sequence[int]] = None,
                        aggregation: str = 'rollout', ncols: Optional[int] = None,
                        title: Optional[str] = None) -> Figure:
    """A figure of :func:`draw_attention_maps` (see there for the arguments)."""
    n = as_numpy(layer_attention).shape[0] + 2
    ncols = ncols or min(n, 7)
    # a panel: the image narrowed by its colourbar, under a 2-line title
    fig = Figure(figsize=(PANEL_INCHES * ncols, PANEL_INCHES * 0.9 * math.ceil(n / ncols) + 0.2),
                 layout='constrained')
    draw_attention_maps(fig, image, layer_attention, aggregated, patch_grid, covered_hw,
                        aggregation, ncols)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
