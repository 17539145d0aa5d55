"""Checkpoint loading on torch >= 2.6 without giving up the safe unpickler.

torch >= 2.6 loads with ``weights_only=True`` by default, and MMEngine 0.10.7's checkpoints
(which hold a ``HistoryBuffer`` message hub, numpy arrays in ``dataset_meta`` and numpy
scalars in the log) then fail to resume or test. Instead of switching the unpickler off, we
allow-list the handful of plain data types MMEngine writes. Every load, ours and third-party
weight files alike, keeps ``weights_only=True``; only
``tools/convert_official_checkpoint.py`` unpickles unsafely, once, with a warning.
"""
import collections
import os
from typing import Dict

import numpy as np
import torch

_done = False


def _numpy_safe_globals():
    """The numpy callables and types that an ndarray or numpy scalar pickles into."""
    core = getattr(np, '_core', None) or np.core
    found = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    # one dtype class per scalar type (numpy >= 1.25 exposes them in np.dtypes)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [getattr(dtypes, name) for name in dir(dtypes)
                  if name.endswith('DType') and isinstance(getattr(dtypes, name), type)]
    return found


def allow_mmengine_checkpoints() -> None:
    """Allow-list the types in MMEngine checkpoints for ``torch.load(weights_only=True)``.

    Idempotent. Called when :mod:`svip_mm` is imported.
    """
    global _done
    if _done or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    from mmengine.config.config import ConfigDict
    # getattr: the message hub pickles HistoryBuffer's statistics methods by reference
    # (getattr(HistoryBuffer, 'min')). Allowing it cannot run code: the safe unpickler only
    # ever *calls* allow-listed callables, so an attribute fetched this way stays inert.
    torch.serialization.add_safe_globals(
        [HistoryBuffer, ConfigDict, collections.OrderedDict, collections.Counter,
         collections.defaultdict, getattr, *_numpy_safe_globals()])
    _done = True


def load_weights_file(path: str) -> Dict[str, torch.Tensor]:
    """Read a third-party weight file safely and return its state dict.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)``. A checkpoint dict that wraps the weights in
    ``state_dict``, ``model``, ``module`` or ``network`` is unwrapped.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file holds no tensor dict.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'weight file not found: {path!r}')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return dict(load_file(path, device='cpu'))
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # the unpickler's own message says which global was refused
        raise ValueError(
            f'{path!r} could not be loaded with torch.load(weights_only=True): {err}. '
            'Weight files are only read with the safe unpickler; an official SVIP training '
            'checkpoint must first go through tools/convert_official_checkpoint.py.') from err
    for key in ('state_dict', 'model', 'module', 'network'):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f'{path!r} holds no state dict of tensors (top-level type '
                         f'{type(obj).__name__})')
    return dict(obj)
