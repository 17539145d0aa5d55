"""Reading checkpoints and weight files with torch's safe unpickler only.

What is loaded safely, and how:

- Checkpoints svip_mm writes (``SVIPCheckpointHook``) hold tensors and plain Python data
  only (``svip_mm/utils/checkpoint_format.py``): they load with
  ``torch.load(weights_only=True)`` and nothing allow-listed.
- MMEngine checkpoints in the older layout (written by MMEngine's own ``CheckpointHook``, or
  by svip_mm before this format) hold ``HistoryBuffer`` objects, numpy arrays and
  ``getattr`` references. :func:`load_checkpoint_file` reads them with the safe unpickler
  and, for that one call, a narrow allow-list of its own: numpy's array types, a stand-in
  for ``HistoryBuffer`` that accepts nothing but its three data fields, and a stand-in for
  ``getattr`` that resolves nothing but ``HistoryBuffer.min/max/current/mean``. Nothing is
  added to torch's process-wide list: importing svip_mm changes no other ``torch.load``.
- Third-party weight files (:func:`load_weights_file`): ``.safetensors`` with safetensors;
  timm ``.pth`` and mmpretrain checkpoints as above.
- The only unsafe read is ``tools/convert_official_checkpoint.py`` (official SVIP training
  files pickle whole objects), once, with a warning; its output loads safely.

``import svip_mm`` makes :func:`load_checkpoint_file` MMEngine's loader for local paths
(:func:`svip_mm.engine.safe_checkpoint.use_safe_loader_in_mmengine`), so the Runner's
``load_from`` and ``resume`` read both layouts this way. This module is a shared utility:
model code reads weight files through it without depending on the engine.
"""
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Dict, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from .checkpoint_format import decode_checkpoint

# the statistics methods an MMEngine HistoryBuffer pickles by reference
_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')
_HISTORY_FIELDS = {'max_length', '_log_history', '_count_history'}


class CheckpointReadError(ValueError):
    """A checkpoint file cannot be read: not written by torch.save, or refused."""


class UnsafeCheckpointError(CheckpointReadError):
    """The safe unpickler refused a file (it holds objects svip_mm does not load)."""


class _LegacyHistoryBuffer:
    """Stands in for ``mmengine.logging.HistoryBuffer`` while an old checkpoint is read.

    The real class's ``__setstate__`` writes the pickled statistics methods into a dict that
    every HistoryBuffer of the process shares; this one keeps the three data fields only and
    refuses anything else.
    """

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f'HistoryBuffer state must be a dict, got '
                                         f'{type(state).__name__}')
        methods = state.pop('statistics_methods', {})
        unknown = set(state) - _HISTORY_FIELDS
        if unknown or not isinstance(methods, dict) or \
                any(methods.get(name) != name for name in methods):
            raise pickle.UnpicklingError(
                f'HistoryBuffer state with fields {sorted(unknown)} or statistics methods '
                f'{methods!r}: expected only {sorted(_HISTORY_FIELDS)} and the built-in '
                f'statistics {list(_HISTORY_STATISTICS)}')
        self.__dict__.update(state)

    def to_history_buffer(self) -> HistoryBuffer:
        return HistoryBuffer(np.asarray(self._log_history), np.asarray(self._count_history),
                             max_length=int(self.max_length))


def _legacy_getattr(obj: Any, name: str) -> str:
    """``getattr`` as an old checkpoint may use it: ``HistoryBuffer.<statistic>`` only.

    Returns the statistic's name (all the stand-in buffer keeps of it).
    """
    if obj is _LegacyHistoryBuffer and name in _HISTORY_STATISTICS:
        return name
    shown = 'HistoryBuffer' if obj is _LegacyHistoryBuffer else \
        getattr(obj, '__name__', type(obj).__name__)
    raise pickle.UnpicklingError(
        f'refused getattr({shown!r}, {name!r}) in a '
        f'checkpoint: only HistoryBuffer.{{{",".join(_HISTORY_STATISTICS)}}} is allowed')


def _numpy_globals() -> list:
    """The numpy callables and types that an ndarray or numpy scalar pickles into."""
    core = getattr(np, '_core', None) or np.core
    found = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    # one dtype class per scalar type (numpy >= 1.25 exposes them in np.dtypes)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [getattr(dtypes, name) for name in dir(dtypes)
                  if name.endswith('DType') and isinstance(getattr(dtypes, name), type)]
    return found


def legacy_checkpoint_globals() -> list:
    """The allow-list used, for one call only, to read an old-layout MMEngine checkpoint.

    Neither the real ``getattr`` nor the real ``HistoryBuffer`` is on it: the names an old
    file pickles (``builtins.getattr``, ``...HistoryBuffer``) resolve to the stand-ins above,
    which reach no attribute, module or code (``_legacy_getattr`` returns a statistic's name
    or raises; the buffer keeps three data fields). tests/test_checkpoint_safety.py sends an
    exec payload through each entry.
    """
    return [*_numpy_globals(),
            (_LegacyHistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
            (_legacy_getattr, 'builtins.getattr')]


def _replace_stand_ins(obj: Any) -> Any:
    if isinstance(obj, _LegacyHistoryBuffer):
        return obj.to_history_buffer()
    if isinstance(obj, dict):
        for key, value in obj.items():
            obj[key] = _replace_stand_ins(value)
    elif isinstance(obj, list):
        obj[:] = [_replace_stand_ins(v) for v in obj]
    elif isinstance(obj, tuple):
        return tuple(_replace_stand_ins(v) for v in obj)
    return obj


# torch.save's two layouts: a zip archive, or (torch < 1.6, _use_new_zipfile_serialization=False)
# a pickle that starts with torch's magic number (protocol 2, LONG1 of 10 bytes)
_LEGACY_TORCH_MAGIC = b'\x80\x02\x8a\x0a' + (0x1950a86a20f9469cfc6c).to_bytes(10, 'little')


def _check_torch_file(path: str) -> None:
    """Refuse a file that torch.save did not write, before the unpickler trips over it."""
    if zipfile.is_zipfile(path):
        return
    with open(path, 'rb') as f:
        head = f.read(len(_LEGACY_TORCH_MAGIC))
    if head != _LEGACY_TORCH_MAGIC:
        raise CheckpointReadError(
            f'{path!r} is not a torch checkpoint: it is neither a zip archive written by '
            f'torch.save nor a legacy torch pickle ({osp.getsize(path)} bytes, starting '
            f'with {head[:8]!r}). Expected a .pth written by torch.save (an svip_mm / '
            'MMEngine checkpoint, timm or mmpretrain weights), or a .safetensors file.')


def load_checkpoint_file(path: Union[str, os.PathLike], map_location: Any = 'cpu') -> Any:
    """Read an MMEngine / svip_mm checkpoint with the safe unpickler (see the module doc).

    Returns the checkpoint with numpy arrays and HistoryBuffers as MMEngine wrote them.

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: the safe unpickler refuses the file (the message names the
            refused global).
        CheckpointReadError: not a file torch.save wrote, or a damaged one.
    """
    path = osp.expanduser(os.fspath(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path!r}')
    _check_torch_file(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        try:
            with torch.serialization.safe_globals(legacy_checkpoint_globals()):
                ckpt = torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            raise UnsafeCheckpointError(
                f'{path!r} was refused by the safe unpickler (torch.load(weights_only=True)), '
                'even with the allowances for older MMEngine checkpoints (numpy arrays, '
                f'HistoryBuffer): {err}\nsvip_mm never unpickles a checkpoint unsafely; an '
                'official SVIP training file must go through '
                'tools/convert_official_checkpoint.py.') from None
        ckpt = _replace_stand_ins(ckpt)
    except (RuntimeError, EOFError) as err:  # a truncated or damaged file
        raise CheckpointReadError(f'{path!r} could not be read by torch.load (damaged or '
                                  f'truncated?): {err}') from None
    if isinstance(ckpt, dict):
        decode_checkpoint(ckpt)
    return ckpt


def load_weights_file(path: str) -> Dict[str, torch.Tensor]:
    """Read a third-party weight file safely and return its state dict.

    ``.safetensors`` files are read with safetensors; anything else with
    :func:`load_checkpoint_file`. A checkpoint dict that wraps the weights in
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
    obj = load_checkpoint_file(path, map_location='cpu')
    for key in ('state_dict', 'model', 'module', 'network'):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f'{path!r} holds no state dict of tensors (top-level type '
                         f'{type(obj).__name__})')
    return dict(obj)
