"""One figure that tells the whole story of one image.

Up to three rows (matplotlib sub-figures), each headed by what it shows: the attention maps
(:mod:`.attention_maps`), the selection with its probabilities, the attention per unit and,
when given, the ground-truth mask (:mod:`.selection_overlay`; SVIP only), and the
localisation of the top predicted attributes (:mod:`.attribute_localisation`). A row the model
cannot give (:attr:`ZSLImageAnalysis.unavailable`) is left out; the figure's last line says
why. Every panel keeps the label its own module gives it. Each row has as many columns as it
has panels (wrapped into balanced lines beyond ``max_cols``), so every row fills the figure's
width.
"""
import math
from typing import Optional, Tuple

from matplotlib.figure import Figure

from .analysis import PANEL_GROUPS, ZSLImageAnalysis
from .attention_maps import draw_attention_maps
from .attribute_localisation import draw_attribute_localisation
from .selection_overlay import draw_selection, selection_panel_labels

__all__ = ['plot_image_summary', 'prediction_title', 'class_text']

PANEL_INCHES = 2.3  # width of a panel in the widest row
TITLE_LINE = 0.14  # inches per line of a 7 pt panel title
COLORBAR_INCHES = 0.7  # width a colourbar and its tick labels take from a panel
# per panel group: the row title for SVIP, and for a model without a selector
ROW_TITLES = {
    'attention': ('Where the ViT looks on the full image (source pass): CLS attention per '
                  'layer',
                  'Where the ViT looks: CLS attention per layer (read from its attention '
                  'modules)'),
    'selection': ('Patch selection at inference: what the selector keeps, and how it compares '
                  'with the attention{mask}', None),
    'attribute_localisation': ('Where the model finds its top {top} predicted attributes '
                               '(attribute head on each unit)',
                               'Where the model finds its top {top} predicted attributes '
                               '({head}.attribute_maps on its {grid} grid)'),
}
PANEL_NAMES = {'attention': 'attention maps', 'selection': 'patch selection',
               'attribute_localisation': 'attribute localisation'}


def unavailable_lines(analysis: ZSLImageAnalysis) -> list:
    """One line per panel group the model cannot give, in figure order:
    ``'<panels> left out: <why>'``."""
    order = {group: i for i, group in enumerate(PANEL_GROUPS)}
    groups = sorted(analysis.unavailable, key=lambda g: order.get(g, len(order)))
    return [f'{PANEL_NAMES.get(g, g)} left out: {analysis.unavailable[g]}' for g in groups]


def class_text(analysis: ZSLImageAnalysis, index: int) -> str:
    """A class's name (or ``'class <i>'``) marked ``[seen]`` or ``[unseen]`` (seen in
    training or not) when the analysis knows the split."""
    text = analysis.class_names[index] if analysis.class_names else f'class {index}'
    if analysis.unseen is not None:
        text += ' [unseen]' if bool(analysis.unseen[index]) else ' [seen]'
    return text


def prediction_title(analysis: ZSLImageAnalysis, gt_label: Optional[int] = None,
                     name: Optional[str] = None) -> str:
    """``'<name>: predicted <class> [unseen] (p = 0.83) | true <class> [unseen]'``: the
    predicted class with its softmax score over all classes and the true class, each marked
    seen or unseen (see :func:`class_text`)."""
    parts = []
    if analysis.pred_label is not None:
        p = analysis.pred_label
        parts.append(f'predicted {class_text(analysis, p)} (p = {analysis.class_scores[p]:.2f})')
    if gt_label is not None:
        parts.append(f'true {class_text(analysis, int(gt_label))}')
    text = ' | '.join(parts)
    return f'{name}: {text}' if name else text


def _rows_cols(n: int, max_cols: int) -> Tuple[int, int]:
    """``(rows, cols)`` for ``n`` panels in at most ``max_cols`` columns, the lines balanced
    (9 panels in 7 columns: 2 lines of 5, not 7 + 2)."""
    rows = math.ceil(n / max_cols)
    return rows, math.ceil(n / rows)


def _row_inches(width: float, rows: int, cols: int, aspect: float, title_lines: int,
                extra: float = 0.0) -> float:
    """The height of a row of ``rows`` x ``cols`` panels across ``width`` inches: the images
    (``aspect`` = height / width) beside their colourbars, their titles and the row's title."""
    image = max(width / cols - COLORBAR_INCHES, 0.5) * aspect
    return rows * (image + title_lines * TITLE_LINE + 0.12 + extra) + 0.3


def plot_image_summary(analysis: ZSLImageAnalysis, gt_mask=None, top_attributes: int = 4,
                       title: Optional[str] = None, max_cols: int = 7,
                       fg_threshold: float = 0.1) -> Figure:
    """The one-image summary figure.

    Args:
        analysis: from :func:`~svip_mm.visualization.analyse_image`.
        gt_mask: optional ``[h, w]`` foreground mask (synthetic data) shown beside the
            selection (SVIP; ignored without a selection row).
        top_attributes: how many of the top predicted attributes to localise (at most K).
        title: figure title (default: the prediction, see :func:`prediction_title`).
        max_cols: at most this many panels side by side in a row.
        fg_threshold: foreground fraction below which a unit counts as background.

    Raises:
        ValueError: the analysis has no panel at all (naming why each is missing).
    """
    groups = analysis.panels
    if not groups:
        raise ValueError(f'{analysis.model_name}: no panel to draw; '
                         + '; '.join(unavailable_lines(analysis)))
    svip = analysis.model_kind == 'svip'
    top = min(top_attributes, analysis.attribute_scores.size)
    counts = dict(
        attention=(analysis.layer_attention.shape[0] + 2
                   if 'attention' in groups else 0),
        selection=len(selection_panel_labels(True, gt_mask is not None)),
        attribute_localisation=top)
    layout = {g: _rows_cols(counts[g], max_cols) for g in groups}
    width = max(rc[1] for rc in layout.values()) * PANEL_INCHES
    aspect = analysis.image.shape[0] / analysis.image.shape[1]
    title_lines = dict(attention=2, selection=3, attribute_localisation=3)
    heights = [_row_inches(width, *layout[g], aspect, title_lines[g],
                           extra=0.12 if g == 'attribute_localisation' else 0.0)  # unit ticks
               for g in groups]
    notes = unavailable_lines(analysis)
    fig = Figure(figsize=(width, sum(heights) + 0.35 + 0.15 * len(notes)),
                 layout='constrained')
    rows = fig.subfigures(len(groups), 1, height_ratios=heights, squeeze=False)[:, 0]
    for row, group in zip(rows, groups):
        ncols = layout[group][1]
        if group == 'attention':
            draw_attention_maps(row, analysis.image, analysis.layer_attention,
                                analysis.aggregated_attention, analysis.patch_grid,
                                analysis.covered_hw, analysis.aggregation, ncols,
                                selector_target=svip)
        elif group == 'selection':
            draw_selection(row, analysis.image, analysis.keep_mask, analysis.selector_prob,
                           analysis.unit_grid, analysis.covered_hw,
                           analysis.attention_unit_scores, gt_mask, fg_threshold, ncols=ncols,
                           context_mode=analysis.context_mode)
        else:
            draw_attribute_localisation(row, analysis.image, analysis.unit_attribute_scores,
                                        analysis.attribute_scores, analysis.attribute_names,
                                        analysis.unit_grid, analysis.covered_hw, top,
                                        ncols=ncols)
    mask_words = '' if gt_mask is None else ' and the true object'
    grid = analysis.unit_grid or analysis.patch_grid
    head = analysis.model_name.split(' with ')[-1]
    for number, (row, group) in enumerate(zip(rows, groups), start=1):
        svip_title, other_title = ROW_TITLES[group]
        text = (svip_title if svip else other_title).format(
            mask=mask_words, top=top, head=head, grid=f'{grid[0]}x{grid[1]}')
        row.suptitle(f'{number}. {text}', fontsize=8, ha='left', x=0.01)
    fig.suptitle(title if title is not None else prediction_title(analysis), fontsize=10)
    if notes:
        fig.supxlabel('\n'.join(notes), fontsize=7, ha='left', x=0.01)
    return fig
