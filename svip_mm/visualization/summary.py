"""One figure that tells the whole story of one image.

Three rows (matplotlib sub-figures), each headed by what it shows: the attention maps
(:mod:`.attention_maps`), the selection with its probabilities, the attention per unit and,
when given, the ground-truth mask (:mod:`.selection_overlay`), and the localisation of the top
predicted attributes (:mod:`.attribute_localisation`). Every panel keeps the label its own
module gives it. Each row has as many columns as it has panels (wrapped into balanced lines
beyond ``max_cols``), so every row fills the figure's width.
"""
import math
from typing import Optional, Tuple

from matplotlib.figure import Figure

from .analysis import SVIPImageAnalysis
from .attention_maps import draw_attention_maps
from .attribute_localisation import draw_attribute_localisation
from .selection_overlay import draw_selection, selection_panel_labels

__all__ = ['plot_image_summary', 'prediction_title', 'class_text']

PANEL_INCHES = 2.3  # width of a panel in the widest row
TITLE_LINE = 0.14  # inches per line of a 7 pt panel title
COLORBAR_INCHES = 0.7  # width a colourbar and its tick labels take from a panel
ROW_TITLES = (
    '1. Where the ViT looks on the full image (source pass): CLS attention per layer',
    '2. Patch selection at inference: what the selector keeps, and how it compares with the '
    'attention{mask}',
    '3. Where the model finds its top {top} predicted attributes (attribute head on each unit)',
)


def class_text(analysis: SVIPImageAnalysis, index: int) -> str:
    """A class's name (or ``'class <i>'``) marked ``[seen]`` or ``[unseen]`` (seen in
    training or not) when the analysis knows the split."""
    text = analysis.class_names[index] if analysis.class_names else f'class {index}'
    if analysis.unseen is not None:
        text += ' [unseen]' if bool(analysis.unseen[index]) else ' [seen]'
    return text


def prediction_title(analysis: SVIPImageAnalysis, gt_label: Optional[int] = None,
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


def plot_image_summary(analysis: SVIPImageAnalysis, gt_mask=None, top_attributes: int = 4,
                       title: Optional[str] = None, max_cols: int = 7,
                       fg_threshold: float = 0.1) -> Figure:
    """The one-image summary figure.

    Args:
        analysis: from :func:`~svip_mm.visualization.analyse_image`.
        gt_mask: optional ``[h, w]`` foreground mask (synthetic data) shown beside the
            selection.
        top_attributes: how many of the top predicted attributes to localise (at most K).
        title: figure title (default: the prediction, see :func:`prediction_title`).
        max_cols: at most this many panels side by side in a row.
        fg_threshold: foreground fraction below which a unit counts as background.
    """
    num_layers = analysis.layer_attention.shape[0]
    top = min(top_attributes, analysis.attribute_scores.size)
    num_sel = len(selection_panel_labels(True, gt_mask is not None))
    att_rc, sel_rc, top_rc = (_rows_cols(n, max_cols) for n in (num_layers + 2, num_sel, top))
    width = max(att_rc[1], sel_rc[1], top_rc[1]) * PANEL_INCHES
    aspect = analysis.image.shape[0] / analysis.image.shape[1]
    heights = [_row_inches(width, *att_rc, aspect, 2),
               _row_inches(width, *sel_rc, aspect, 3),
               _row_inches(width, *top_rc, aspect, 3, extra=0.12)]  # + the unit ticks
    fig = Figure(figsize=(width, sum(heights) + 0.35), layout='constrained')
    rows = fig.subfigures(3, 1, height_ratios=heights)
    draw_attention_maps(rows[0], analysis.image, analysis.layer_attention,
                        analysis.aggregated_attention, analysis.patch_grid,
                        analysis.covered_hw, analysis.aggregation, att_rc[1])
    draw_selection(rows[1], analysis.image, analysis.keep_mask, analysis.selector_prob,
                   analysis.unit_grid, analysis.covered_hw, analysis.attention_unit_scores,
                   gt_mask, fg_threshold, ncols=sel_rc[1], context_mode=analysis.context_mode)
    draw_attribute_localisation(rows[2], analysis.image, analysis.unit_attribute_scores,
                                analysis.attribute_scores, analysis.attribute_names,
                                analysis.unit_grid, analysis.covered_hw, top, ncols=top_rc[1])
    mask_words = '' if gt_mask is None else ' and the true object'
    for row, text in zip(rows, ROW_TITLES):
        row.suptitle(text.format(mask=mask_words, top=top), fontsize=8, ha='left', x=0.01)
    fig.suptitle(title if title is not None else prediction_title(analysis), fontsize=10)
    return fig
