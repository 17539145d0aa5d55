"""Utilities shared by models, engine and apis (no registered components, no engine).

- the safe reader of checkpoints and weight files (:mod:`.safe_checkpoint`);
- checks of the values and names read from files: :func:`check_finite` (NaN, inf, beyond
  the model's dtype) and :func:`check_unique_names`;
- the tools' error policy (``svip_mm.utils.tool_errors``), their config reader
  (``svip_mm.utils.config_file``) and atomic file writes (``svip_mm.utils.atomic_write``).
"""
from .finite import NonFiniteError, check_finite
from .safe_checkpoint import (CheckpointReadError, CheckpointUnavailableError,
                              UnsafeCheckpointError, load_checkpoint_file, load_weights_file)
from .unique_names import check_unique_names

__all__ = ['CheckpointReadError', 'CheckpointUnavailableError', 'UnsafeCheckpointError',
           'load_checkpoint_file', 'load_weights_file', 'NonFiniteError', 'check_finite',
           'check_unique_names']
