"""Inference on images: :class:`ZSLInferencer` for any ZSL model (top-k zero-shot classes over
seen and unseen classes, top attributes; for SVIP also the keep mask; class tables replaceable
at inference time), :class:`SVIPInferencer` (the same, SVIP only) and the class-table
helpers."""
from .class_table import ClassTable, load_class_table, normalise_rows
from .inferencer import SVIPInferencer, ZSLInferencer, backbone_geometry, model_kind

__all__ = ['ClassTable', 'SVIPInferencer', 'ZSLInferencer', 'backbone_geometry',
           'load_class_table', 'model_kind', 'normalise_rows']
