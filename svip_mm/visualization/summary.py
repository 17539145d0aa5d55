"""One figure that tells the whole story of one image.

Three rows (matplotlib sub-figures): the attention maps (:mod:`.attention_maps`), the
selection with its probabilities, the attention per unit and, when given, the ground-truth
mask (:mod:`.selection_overlay`), and the localisation of the top predicted attributes
(:mod:`.attribute_localisation`). Every panel keeps the label its own module gives it.
"""
import math
from typing import Optional

from matplotlib.figure import Figure

from .analysis import SVIPImageAnalysis
from .attention_maps import draw_attention_maps
from .attribute_localisation import draw_attribute_localisation
from .selection_overlay import draw_selection

__all__ = ['plot_image_summary', 'prediction_title']

PANEL_INCHES = 2.0


def prediction_title(analysis: SVIPImageAnalysis, gt_label: Optional[int] = None,
                     name: Optional[str] = None) -> str:
    """``'<name>: pred <class> (unseen) 0.83 | gt <class>'`` from an analysis."""
    def cls(i):
        text = analysis.class_names[i] if analysis.class_names else f'class {i}'
        if analysis.unseen is not None and bool(analysis.unseen[i]):
            text += ' (unseen)'
        return text

    parts = []
    if analysis.pred_label is not None:
        p = analysis.pred_label
        parts.append(f'pred {cls(p)} {analysis.class_scores[p]:.2f}')
    if gt_label is not None:
        parts.append(f'gt {cls(int(gt_label))}')
    text = ' | '.join(parts)
    return f'{name}: {text}' if name else text


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
        max_cols: panels per row of the attention maps.
        fg_threshold: foreground fraction below which a unit counts as background.
    """
    num_layers = analysis.layer_attention.shape[0]
    att_cols = min(num_layers + 2, max_cols)
    att_rows = math.ceil((num_layers + 2) / att_cols)
    top = min(top_attributes, analysis.attribute_scores.size)
    sel_cols = 3 + (gt_mask is not None)
    cols = max(att_cols, sel_cols, top)
    heights = [att_rows * PANEL_INCHES, PANEL_INCHES + 0.2, PANEL_INCHES + 0.4]
    fig = Figure(figsize=(cols * PANEL_INCHES, sum(heights) + 0.5), layout='constrained')
    rows = fig.subfigures(3, 1, height_ratios=heights)
    draw_attention_maps(rows[0], analysis.image, analysis.layer_attention,
                        analysis.aggregated_attention, analysis.patch_grid,
                        analysis.covered_hw, analysis.aggregation, att_cols)
    draw_selection(rows[1], analysis.image, analysis.keep_mask, analysis.selector_prob,
                   analysis.unit_grid, analysis.covered_hw, analysis.attention_unit_scores,
                   gt_mask, fg_threshold, ncols=cols)
    draw_attribute_localisation(rows[2], analysis.image, analysis.unit_attribute_scores,
                                analysis.attribute_scores, analysis.attribute_names,
                                analysis.unit_grid, analysis.covered_hw, top, ncols=cols)
    fig.suptitle(title if title is not None else prediction_title(analysis), fontsize=10)
    return fig
