"""Figures of what a ZSL model does on one image (matplotlib; every function returns a
``Figure``).

- :func:`analyse_image`: run any ZSL model (an :class:`SVIPClassifier`, or mmpretrain's
  ``ImageClassifier`` with a ZSL head: the baseline, APN, TransZero) on one image and collect
  everything below that the model can give (:class:`ZSLImageAnalysis`; ``SVIPImageAnalysis``
  is the same class); ``unavailable`` says why a panel is missing.
- :func:`read_vit_attention`: the per-layer attention of mmpretrain's ``VisionTransformer``,
  read by forward hooks on its attention modules' qkv projections.
- :func:`plot_attention_maps`: per-layer CLS attention and the aggregated rollout.
- :func:`plot_selection` (SVIP): kept vs contextualised units, the selector's "unrelated"
  probability per unit, the attention per unit and the ground-truth mask.
- :func:`plot_attribute_localisation` / :func:`localise_attributes`: the units that score
  the top predicted attributes highest.
- :func:`plot_image_summary`: all of it in one figure (the panels the model can give).
- :class:`SVIPVisualizationHook`: writes summary figures of test images
  (``tools/test.py --show-dir``).

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state, no GUI
backend); save them with ``fig.savefig(path)``.
"""
from .analysis import SVIPImageAnalysis, ZSLImageAnalysis, analyse_image
from .attention_maps import attention_panel_labels, draw_attention_maps, plot_attention_maps
from .attribute_localisation import (draw_attribute_localisation, localise_attributes,
                                     plot_attribute_localisation)
from .grid import input_to_display, unit_boxes
from .selection_overlay import draw_selection, plot_selection, selection_panel_labels
from .summary import plot_image_summary, prediction_title, unavailable_lines
from .visualization_hook import SVIPVisualizationHook
from .vit_attention import attention_unavailable, cls_rollout, read_vit_attention

__all__ = [
    'SVIPImageAnalysis', 'SVIPVisualizationHook', 'ZSLImageAnalysis', 'analyse_image',
    'attention_panel_labels', 'attention_unavailable', 'cls_rollout', 'draw_attention_maps',
    'draw_attribute_localisation', 'draw_selection', 'input_to_display', 'localise_attributes',
    'plot_attention_maps', 'plot_attribute_localisation', 'plot_image_summary',
    'plot_selection', 'prediction_title', 'read_vit_attention', 'selection_panel_labels',
    'unavailable_lines', 'unit_boxes'
]
