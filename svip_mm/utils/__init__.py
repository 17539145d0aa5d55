"""Utilities shared by models, engine and apis (no registered components, no engine)."""
from .safe_checkpoint import (CheckpointReadError, UnsafeCheckpointError, load_checkpoint_file,
                              load_weights_file)

__all__ = ['CheckpointReadError', 'UnsafeCheckpointError', 'load_checkpoint_file',
           'load_weights_file']
