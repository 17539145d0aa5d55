"""MMEngine reads local checkpoint files with svip_mm's safe reader.

The reader itself (:func:`load_checkpoint_file`, :func:`load_weights_file`, the errors and
the legacy allow-list) lives in :mod:`svip_mm.utils.safe_checkpoint`, so that model code can
use it without importing the engine; it is re-exported here under its old names.
"""
from typing import Any

from ..utils.safe_checkpoint import (CheckpointReadError, UnsafeCheckpointError,  # noqa: F401
                                     legacy_checkpoint_globals, load_checkpoint_file,
                                     load_weights_file)


def _mmengine_local_loader(filename: str, map_location: Any = None) -> Any:
    return load_checkpoint_file(filename, map_location=map_location)


def use_safe_loader_in_mmengine() -> None:
    """Make :func:`load_checkpoint_file` MMEngine's loader for local paths (idempotent)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=_mmengine_local_loader, force=True)
