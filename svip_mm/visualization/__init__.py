"""Figures of what SVIP does on one image (matplotlib; every function returns a ``Figure``).

- :func:`analyse_image`: run an :class:`SVIPClassifier` on one image and collect everything
  below (:class:`SVIPImageAnalysis`).
- :func:`plot_attention_maps`: per-layer CLS attention and the aggregated rollout.
- :func:`plot_selection`: kept vs contextualised units, the selector's "unrelated"
  probability per unit, the attention per unit and the ground-truth mask.
- :func:`plot_attribute_localisation` / :func:`localise_attributes`: the units that score
  the top predicted attributes highest.
- :func:`plot_image_summary`: all of it in one figure.
- :class:`SVIPVisualizationHook`: writes summary figures of test images
  (``tools/test.py --show-dir``).

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI
backend); save them with ``fig.savefig(path)``.
"""
from .analysis import SVIPImageAnalysis, analyse_image
from .attention_maps import attention_panel_labels, draw_attention_maps, plot_attention_maps
from .attribute_localisation import (draw_attribute_localisation, localise_attributes,
                                     plot_attribute_localisation)
from .grid import input_to_display, unit_boxes
from .selection_overlay import draw_selection, plot_selection, selection_panel_labels
from .summary import plot_image_summary, prediction_title
from .visualization_hook import SVIPVisualizationHook

__all__ = [
    'SVIPImageAnalysis', 'SVIPVisualizationHook', 'analyse_image', 'attention_panel_labels',
    'draw_attention_maps', 'draw_attribute_localisation', 'draw_selection', 'input_to_display',
    'localise_attributes', 'plot_attention_maps', 'plot_attribute_localisation',
    'plot_image_summary', 'plot_selection', 'prediction_title', 'selection_panel_labels',
    'unit_boxes'
]
