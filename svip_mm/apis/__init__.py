"""Inference on images: :class:`SVIPInferencer` (top-k zero-shot classes over seen and unseen
classes, top attributes, keep mask; class tables replaceable at inference time) and the
class-table helpers."""
from .class_table import ClassTable, load_class_table, normalise_rows
from .inferencer import SVIPInferencer

__all__ = ['ClassTable', 'SVIPInferencer', 'load_class_table', 'normalise_rows']
