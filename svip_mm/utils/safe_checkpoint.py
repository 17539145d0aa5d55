"""Reading checkpoints and weight files with torch's safe unpickler only.

What is loaded safely, and how:

- Checkpoints svip_mm writes (``SVIPCheckpointHook``) hold tensors and plain Python data
  only (``svip_mm/utils/checkpoint_format.py``): they load with
  ``torch.load(weights_only=True)`` and nothing allow-listed, and their tagged numpy data is
  decoded within bounds (whitelisted dtypes, sizes the file pays for, no cycles, bounded
  depth; see that module).
- MMEngine checkpoints in the older layout (written by MMEngine's own ``CheckpointHook``, or
  by svip_mm before this format) hold ``HistoryBuffer`` objects, numpy arrays and
  ``getattr`` references. :func:`load_checkpoint_file` reads them with the safe unpickler
  and, for that one call, a narrow allow-list of stand-ins registered under the names the
  file pickles: for ``HistoryBuffer`` (its three data fields only), for ``getattr``
  (``HistoryBuffer.min/max/current/mean`` only), for ``bytes`` (``bytes()`` only: pickle
  protocol 2's empty bytes) and for numpy's ``dtype``, ``ndarray``, ``_reconstruct`` and
  ``scalar`` (numpy 1.x ``numpy.core`` and 2.x ``numpy._core`` names).
  No numpy object is built through numpy's own pickle protocol, which lets a file rewrite a
  dtype's flags and have raw bytes read as object pointers: the stand-ins accept the
  whitelisted plain dtypes only (bool, integers, floats, complex, fixed-width strings),
  check that the raw bytes are exactly ``prod(shape) * itemsize``, and the array is then
  copied out of those bytes with ``np.frombuffer``. Nothing is added to torch's
  process-wide list: importing svip_mm changes no other ``torch.load``.
- Every read checks first that a zip checkpoint's members match their CRC-32 (torch does
  not), and afterwards that the floating-point weights of its ``state_dict`` are finite: a
  damaged file is an error that names the damaged member or tensors.
- A config text that a checkpoint stores (``meta['config']``, which MMEngine's
  ``Runner.resume`` runs as Python to read ``gpu_ids``) is never kept: only a literal
  ``gpu_ids`` list of integers, read with ``ast``, is passed on.
- Checkpoints named by URL (:func:`load_url_checkpoint`) are downloaded into, or found in,
  torch.hub's checkpoint cache the way MMEngine and ``torch.hub`` do, then read as above.
- Third-party weight files (:func:`load_weights_file`): ``.safetensors`` with safetensors;
  timm ``.pth`` and mmpretrain checkpoints as above.
- The only unsafe read is ``tools/convert_official_checkpoint.py`` (official SVIP training
  files pickle whole objects), once, with a warning; its output loads safely.

``import svip_mm`` makes these functions MMEngine's loaders for local paths, URLs and every
other scheme MMEngine registers
(:func:`svip_mm.engine.safe_checkpoint.use_safe_loader_in_mmengine`), so the Runner's
``load_from``, ``resume`` and ``init_cfg`` checkpoints read both layouts this way. This module is a shared utility: model code reads weight files through it without
depending on the engine.
"""
import ast
import http.client
import logging
import math
import os
import os.path as osp
import pickle
import urllib.parse
import zipfile
import zlib
from typing import Any, Dict, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log

from .checkpoint_format import (MAX_NDIM, CheckpointFormatError, Decoder, decode_checkpoint,
                                history_buffer, plain_dtype)

# the statistics methods an MMEngine HistoryBuffer pickles by reference
_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')
_HISTORY_FIELDS = {'max_length', '_log_history', '_count_history'}
# numpy data decoded from a checkpoint may exceed the file's size by this much at most
# (fixed-width strings take more room in an array than in the pickle)
DECODE_MARGIN_BYTES = 64 << 20


class CheckpointReadError(ValueError):
    """A checkpoint file cannot be read: not written by torch.save, damaged, or refused."""


class UnsafeCheckpointError(CheckpointReadError):
    """The safe unpickler refused a file (it holds objects svip_mm does not load)."""


class CheckpointUnavailableError(CheckpointReadError):
    """A checkpoint named by URL is neither in the download cache nor downloadable now."""


def _refuse(message: str) -> None:
    raise pickle.UnpicklingError(f'refused {message}')


# ------------------------------------------------------------------ legacy stand-ins: MMEngine
class _LegacyHistoryBuffer:
    """Stands in for ``mmengine.logging.HistoryBuffer`` while an old checkpoint is read.

    The real class's ``__setstate__`` writes the pickled statistics methods into a dict that
    every HistoryBuffer of the process shares; this one keeps the three data fields only and
    refuses anything else.
    """
    max_length = _log_history = _count_history = _built = None  # if BUILD never comes

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            _refuse(f'HistoryBuffer state of type {type(state).__name__}: expected a dict')
        methods = state.pop('statistics_methods', {})
        unknown = set(state) - _HISTORY_FIELDS
        if unknown or not isinstance(methods, dict) or \
                any(methods.get(name) != name for name in methods):
            _refuse(f'HistoryBuffer state with fields {sorted(map(str, unknown))} or '
                    f'statistics methods {methods!r}: expected only {sorted(_HISTORY_FIELDS)} '
                    f'and the built-in statistics {list(_HISTORY_STATISTICS)}')
        self.__dict__.update(state)

    def build(self, decoder: Decoder, where: str) -> HistoryBuffer:
        if self._built is None:
            # MMEngine pickles the two fields as ndarrays; anything else is refused below, and
            # nothing inside them is walked (so they cannot lead back to this buffer)
            fields = [value.build(decoder, f'{where}.{name}')
                      if isinstance(value, _ArrayStandIn) else value
                      for name, value in (('_log_history', self._log_history),
                                          ('_count_history', self._count_history))]
            self._built = history_buffer(*fields, self.max_length, where)
        return self._built


def _legacy_getattr(obj: Any, name: str) -> str:
    """``getattr`` as an old checkpoint may use it: ``HistoryBuffer.<statistic>`` only.

    Returns the statistic's name (all the stand-in buffer keeps of it).
    """
    if obj is _LegacyHistoryBuffer and name in _HISTORY_STATISTICS:
        return name
    shown = 'HistoryBuffer' if obj is _LegacyHistoryBuffer else \
        getattr(obj, '__name__', type(obj).__name__)
    _refuse(f'getattr({shown!r}, {name!r}) in a checkpoint: only '
            f'HistoryBuffer.{{{",".join(_HISTORY_STATISTICS)}}} is allowed')


# ------------------------------------------------------------------- legacy stand-ins: numpy
_NOT_PLAIN = ('only bool, integer, float, complex and fixed-width string dtypes are read; '
              'object, void, structured and datetime dtypes are not')


class _DTypeStandIn:
    """Stands in for ``numpy.dtype``: a file pickles a dtype as ``numpy.dtype(spec, align,
    copy)`` plus a state (byte order, sub-fields, item size, flags). Only a whitelisted
    plain dtype comes out, built from the spec, byte order and (strings) item size; the
    pickled flags never reach numpy."""
    dtype = None  # if the file creates one without calling it (NEWOBJ)

    def __init__(self, *args: Any) -> None:
        spec = args[0] if args else None
        if not 1 <= len(args) <= 3 or not isinstance(spec, str) or \
                not all(isinstance(a, bool) for a in args[1:]):
            _refuse(f'numpy.dtype{args!r}: expected (dtype string, align, copy)')
        self.spec = spec
        self.dtype = self._plain(spec)

    def _plain(self, text: str) -> np.dtype:
        try:
            return plain_dtype(text)
        except CheckpointFormatError:
            _refuse(f'numpy dtype {self.spec!r}: {_NOT_PLAIN}')

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or (state[:1], len(state)) not in (((3,), 8), ((4,), 9)):
            _refuse(f'numpy dtype state {state!r}: expected version 3 or 4')
        order, subarray, names, fields, elsize = state[1:6]
        if order not in ('<', '>', '|', '=') or type(elsize) is not int:
            _refuse(f'numpy dtype state {state!r}: bad byte order or item size')
        if (subarray, names, fields) != (None, None, None) or state[8:] not in ((), (None,)):
            _refuse(f'numpy dtype {self.spec!r} with sub-arrays, fields or metadata: '
                    f'{_NOT_PLAIN}')
        kind = self.spec[:1]
        text = self.spec
        if kind in 'SU' and elsize > 0:  # numpy 1.x names U by bytes ('U8' for 4 characters)
            if kind == 'U' and elsize % 4:
                _refuse(f'numpy dtype {self.spec!r} with item size {elsize}')
            text = f'{kind}{elsize // 4 if kind == "U" else elsize}'
        # the pickled flags (state[7]) are dropped on purpose: they are what makes raw bytes
        # object pointers
        self.dtype = self._plain(('' if order == '|' else order) + text)


class _ArrayStandIn:
    """Stands in for ``numpy.ndarray`` (and, with ``scalar``, a numpy scalar): keeps the
    checked state of ``ndarray.__setstate__`` (shape, plain dtype, order, raw bytes of
    exactly the right length). The array is made once, after unpickling, by :meth:`build`,
    which counts it against the checkpoint's decode budget."""
    _state = _built = None
    _scalar = False

    def __init__(self, *args: Any) -> None:
        if args:
            _refuse(f'numpy.ndarray called with {len(args)} arguments in a checkpoint')

    def __setstate__(self, state: Any) -> None:
        if self._state is not None:
            _refuse('a numpy array state set twice')
        if isinstance(state, tuple) and len(state) == 5 and state[0] == 1:
            state = state[1:]
        if not isinstance(state, tuple) or len(state) != 4:
            _refuse(f'numpy array state of type {type(state).__name__}: expected (version, '
                    'shape, dtype, fortran order, raw bytes)')
        shape, dtype, fortran, raw = state
        self._set(shape, dtype, fortran, raw)

    def _set(self, shape: Any, dtype: Any, fortran: Any, raw: Any) -> None:
        if not isinstance(shape, tuple) or len(shape) > MAX_NDIM or \
                not all(type(n) is int and n >= 0 for n in shape):
            _refuse(f'numpy array shape {shape!r}')
        if not isinstance(dtype, _DTypeStandIn) or dtype.dtype is None:
            _refuse(f'numpy array with dtype {type(dtype).__name__}: {_NOT_PLAIN}')
        if not isinstance(raw, bytes):  # an object array pickles a list here
            _refuse(f'numpy array data of type {type(raw).__name__} (dtype '
                    f'{dtype.spec!r}): {_NOT_PLAIN}')
        need = math.prod(shape) * dtype.dtype.itemsize
        if len(raw) != need:
            _refuse(f'numpy array of shape {shape} and dtype {dtype.dtype.str} with '
                    f'{len(raw)} bytes of data: it needs exactly {need}')
        self._state = (shape, dtype.dtype, bool(fortran), raw)

    def build(self, decoder: Decoder, where: str) -> Any:
        if self._built is None:
            if self._state is None:
                raise CheckpointFormatError(f'{where}: a numpy array the file never gave data')
            shape, dtype, fortran, raw = self._state
            decoder.take(len(raw), where)
            arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order='F' if fortran else 'C')
            self._built = arr[()].copy() if self._scalar else arr.copy(order='K')
        return self._built


def _legacy_reconstruct(*args: Any) -> _ArrayStandIn:
    """``numpy...multiarray._reconstruct(numpy.ndarray, (0,), b'b')``, the empty array that
    ``ndarray.__setstate__`` then fills."""
    if len(args) != 3 or args[0] is not _ArrayStandIn or args[1] != (0,) or \
            args[2] not in (b'b', 'b'):
        what = getattr(args[0], '__name__', type(args[0]).__name__) if args else ''
        _refuse(f'numpy _reconstruct({what}, ...) in a checkpoint: only the empty '
                'numpy.ndarray that numpy pickles is allowed')
    return _ArrayStandIn()


def _legacy_scalar(*args: Any) -> _ArrayStandIn:
    """``numpy...multiarray.scalar(dtype, raw bytes)``: a numpy scalar of a plain dtype."""
    if len(args) != 2 or not isinstance(args[0], _DTypeStandIn):
        _refuse(f'numpy scalar() with {len(args)} arguments or without a dtype: expected '
                f'(dtype, bytes)')
    scalar = _ArrayStandIn()
    scalar._set((), args[0], False, args[1])
    scalar._scalar = True
    return scalar


def _legacy_empty_bytes(*args: Any) -> bytes:
    """``bytes()``: pickle protocol 2 writes ``b''`` (an empty array's data) as this call;
    any argument (``bytes(n)`` allocates n bytes) is refused."""
    if args:
        _refuse(f'bytes() with {len(args)} arguments in a checkpoint: only bytes() is allowed')
    return b''


def _numpy_stand_ins() -> list:
    """(stand-in, the name a numpy pickle gives) for numpy 1.x and 2.x names."""
    out = [(_DTypeStandIn, 'numpy.dtype'), (_ArrayStandIn, 'numpy.ndarray'),
           (_legacy_empty_bytes, 'builtins.bytes')]
    for core in ('numpy.core', 'numpy._core'):
        out += [(_legacy_reconstruct, f'{core}.multiarray._reconstruct'),
                (_legacy_scalar, f'{core}.multiarray.scalar')]
    return out


def legacy_checkpoint_globals() -> list:
    """The allow-list used, for one call only, to read an old-layout MMEngine checkpoint.

    Stand-ins only, registered under the names an old file pickles: no real ``getattr``,
    ``HistoryBuffer`` or numpy global is on it (see the module docstring). The stand-ins
    reach no attribute, module or code, and accept nothing but the data they stand for.
    tests/test_utils/test_checkpoint_safety.py sends an exec payload through each entry, and
    tests/test_utils/test_checkpoint_safety_crafted.py the numpy payloads.
    """
    return [*_numpy_stand_ins(),
            (_LegacyHistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
            (_legacy_getattr, 'builtins.getattr')]


def _build_stand_in(obj: Any, decoder: Decoder, where: str) -> Any:
    """The real object for a stand-in left by the legacy unpickling (else ``obj``)."""
    if isinstance(obj, (_ArrayStandIn, _LegacyHistoryBuffer)):
        return obj.build(decoder, where)
    if isinstance(obj, _DTypeStandIn):
        if obj.dtype is None:
            raise CheckpointFormatError(f'{where}: a numpy dtype the file never described')
        return obj.dtype
    return obj


# ------------------------------------------------------------------------ checks of the file
# torch.save's two layouts: a zip archive (ZIP_HEAD), or (torch < 1.6,
# _use_new_zipfile_serialization=False) a pickle that starts with torch's magic number (protocol 2,
# LONG1 of 10 bytes)
ZIP_HEAD = b'PK\x03\x04'
LEGACY_TORCH_MAGIC = b'\x80\x02\x8a\x0a' + (0x1950a86a20f9469cfc6c).to_bytes(10, 'little')
_USE_ANOTHER = 'Use another checkpoint (or copy / download this one again).'


def _check_torch_file(path: str) -> None:
    """Refuse a file that torch.save did not write, before the unpickler trips over it, and
    a zip whose members do not match their CRC-32 (torch.load does not check them, so a
    changed byte in a tensor used to load as a wrong weight, e.g. NaN)."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()  # reads every member and compares its CRC-32
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
            raise CheckpointReadError(f'{path!r} is damaged: its zip archive cannot be read '
                                      f'({err}). {_USE_ANOTHER}') from None
        if bad is not None:
            raise CheckpointReadError(
                f'{path!r} is damaged: its member {bad!r} does not match the CRC-32 checksum '
                f'torch.save wrote for it (bytes changed on disk or in transfer). '
                f'{_USE_ANOTHER}')
        return
    with open(path, 'rb') as f:
        head = f.read(len(LEGACY_TORCH_MAGIC))
    if head != LEGACY_TORCH_MAGIC:
        raise CheckpointReadError(
            f'{path!r} is not a torch checkpoint: it is neither a zip archive written by '
            f'torch.save nor a legacy torch pickle ({osp.getsize(path)} bytes, starting '
            f'with {head[:8]!r}). Expected a .pth written by torch.save (an svip_mm / '
            'MMEngine checkpoint, timm or mmpretrain weights), or a .safetensors file.')


def _check_finite_weights(ckpt: dict, path: str) -> None:
    """Refuse NaN or infinite floating-point weights in ``state_dict``: a trained model never
    has them (training stops at a non-finite loss first), a damaged file may."""
    state = ckpt.get('state_dict')
    if not isinstance(state, dict):
        return
    bad = [name for name, value in state.items()
           if isinstance(value, torch.Tensor) and value.device.type != 'meta'
           and (value.is_floating_point() or value.is_complex())
           and not bool(torch.isfinite(value).all())]
    if bad:
        raise CheckpointReadError(
            f'{path!r} has NaN or infinite values in {len(bad)} weight tensor(s) of its '
            f'state_dict, first {bad[:5]}: the file is damaged, or was saved from a diverged '
            f'model. {_USE_ANOTHER}')


def _literal_gpu_ids(text: Any) -> Optional[list]:
    """``gpu_ids`` of a config text, if the text assigns it a literal list of integers: read
    with ``ast`` (parsed, never executed)."""
    if not isinstance(text, str):
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, 'id', None) for t in node.targets] \
                == ['gpu_ids']:
            try:
                found = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                found = None
    if isinstance(found, (list, tuple)) and all(type(i) is int for i in found):
        return list(found)
    return None


def _drop_stored_config(ckpt: dict, path: str) -> None:
    """Keep no config text from a checkpoint: MMEngine's ``Runner.resume`` runs
    ``meta['config']`` as Python (``Config.fromstring``) to compare ``gpu_ids`` with the
    current world size. That check keeps working with a literal ``gpu_ids``, which is all
    that is passed on; the rest of the text is dropped."""
    meta = ckpt.get('meta')
    if not isinstance(meta, dict) or 'config' not in meta:
        return
    gpu_ids = _literal_gpu_ids(meta['config'])
    if gpu_ids is None:
        del meta['config']
    else:
        meta['config'] = f'gpu_ids = {gpu_ids!r}'
    print_log(f"{path}: the config text stored in meta['config'] is not used (MMEngine would "
              f'run it as Python); kept: gpu_ids={gpu_ids}', logger='current',
              level=logging.INFO)


def _unpickler_reason(err: BaseException) -> str:
    """The unpickler's own reason, without torch's advice to allow-list globals."""
    text = str(err)
    if 'WeightsUnpickler error: ' in text:
        text = text.split('WeightsUnpickler error: ', 1)[1].split('\n\nCheck the docum', 1)[0]
    return text.strip()


def load_checkpoint_file(path: Union[str, os.PathLike], map_location: Any = 'cpu') -> Any:
    """Read an MMEngine / svip_mm checkpoint with the safe unpickler (see the module doc).

    Returns the checkpoint with numpy arrays and HistoryBuffers as MMEngine wrote them.

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: the safe unpickler or a legacy stand-in refuses the file (the
            message names what was refused).
        CheckpointReadError: not a file torch.save wrote; a damaged one (a member whose
            CRC-32 does not match, non-finite weights); malformed or oversized data.
    """
    path = osp.expanduser(os.fspath(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path!r}')
    _check_torch_file(path)
    legacy = False
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        legacy = True
        try:
            with torch.serialization.safe_globals(legacy_checkpoint_globals()):
                ckpt = torch.load(path, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as err:
            raise UnsafeCheckpointError(
                f'{path!r} was refused by the safe unpickler (torch.load(weights_only=True)), '
                'even with the allowances for older MMEngine checkpoints (plain numpy arrays, '
                f'HistoryBuffer): {_unpickler_reason(err)}\nsvip_mm never unpickles a '
                'checkpoint unsafely; an official SVIP training file must go through '
                'tools/convert_official_checkpoint.py.') from None
        except Exception as err:  # noqa: BLE001 (a stand-in handed to torch's own rebuilders)
            raise CheckpointReadError(f'{path!r} could not be read by torch.load (damaged or '
                                      f'crafted?): {type(err).__name__}: {err}') from None
    except Exception as err:  # noqa: BLE001 (truncated, damaged, or data torch rejects)
        raise CheckpointReadError(f'{path!r} could not be read by torch.load (damaged or '
                                  f'truncated?): {type(err).__name__}: {err}') from None
    decoder = Decoder(max_bytes=osp.getsize(path) + DECODE_MARGIN_BYTES,
                      replace=_build_stand_in if legacy else None)
    try:
        if isinstance(ckpt, dict):
            decode_checkpoint(ckpt, decoder)
        else:
            ckpt = decoder(ckpt, 'checkpoint', tags=False)
    except CheckpointFormatError as err:
        raise CheckpointReadError(f'{path!r} holds data svip_mm does not read: {err}') from None
    if isinstance(ckpt, dict):
        _drop_stored_config(ckpt, path)
        _check_finite_weights(ckpt, path)
    return ckpt


# --------------------------------------------------------------------------- named by a URL
def url_cache_file(url: str, model_dir: Optional[str] = None, progress: bool = False,
                   what: str = 'checkpoint', alternative: str = 'give a local path instead',
                   error: type = CheckpointUnavailableError) -> str:
    """Path of the URL's file in torch.hub's checkpoint cache, downloaded if not there.

    The same place ``torch.hub.load_state_dict_from_url`` and MMEngine use
    (``torch.hub.get_dir()/checkpoints/<file name of the URL>``, or ``model_dir``); the file
    is read by the caller with the safe reader, not by the ``torch.load`` those would call.

    Args:
        what, alternative: how error messages name the file and what else the user can do.
        error: the exception class raised when the file is neither cached nor downloadable.

    Raises:
        CheckpointReadError: the URL names no file.
        ``error``: not cached and the download failed; the message names the URL, the
            reason and where to put the file.
    """
    filename = osp.basename(urllib.parse.urlparse(url).path)
    if not filename:
        raise CheckpointReadError(f'{what} URL {url!r} names no file; expected a URL ending '
                                  'in the file name (e.g. .../vit_b16.pth)')
    folder = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    cached = osp.join(folder, filename)
    if osp.isfile(cached):
        print_log(f'{url} found in the torch.hub cache: {cached}', logger='current',
                  level=logging.INFO)
        return cached
    try:
        os.makedirs(folder, exist_ok=True)
        # writes to a temporary file first: an interrupted download leaves no cached file
        torch.hub.download_url_to_file(url, cached, progress=progress)
    except (OSError, ValueError, http.client.HTTPException) as err:  # URLError is an OSError
        raise error(
            f'{what} {url!r} is not in the torch.hub cache and could not be downloaded '
            f'({err}). Download it on a machine with internet and put it at {cached} '
            f'(torch.hub.get_dir()/checkpoints, set by TORCH_HOME), or {alternative}.') from None
    return cached


def load_url_checkpoint(url: str, map_location: Any = 'cpu', model_dir: Optional[str] = None,
                        progress: bool = False) -> Any:
    """:func:`load_checkpoint_file` of the URL's file in the download cache
    (:func:`url_cache_file`); errors name the URL as well as the cached file."""
    path = url_cache_file(url, model_dir=model_dir, progress=progress)
    try:
        return load_checkpoint_file(path, map_location=map_location)
    except CheckpointReadError as err:
        raise type(err)(f'{url} (downloaded to the cache): {err}') from None


def load_weights_file(path: str) -> Dict[str, torch.Tensor]:
    """Read a third-party weight file safely and return its state dict.

    ``.safetensors`` files are read with safetensors; anything else with
    :func:`load_checkpoint_file`. A checkpoint dict that wraps the weights in
    ``state_dict``, ``model``, ``module`` or ``network`` is unwrapped.

    Raises:
        FileNotFoundError: the path does not exist.
        CheckpointReadError: safetensors cannot read a ``.safetensors`` file (the message
            names it), or :func:`load_checkpoint_file`'s errors.
        ValueError: the file holds no tensor dict.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'weight file not found: {path!r}')
    if path.endswith('.safetensors'):
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return dict(load_file(path, device='cpu'))
        except SafetensorError as err:  # its message names no file
            raise CheckpointReadError(
                f'{path!r} could not be read as a .safetensors file (damaged, truncated, or '
                f'another format under that name?): {err}') from None
    obj = load_checkpoint_file(path, map_location='cpu')
    for key in ('state_dict', 'model', 'module', 'network'):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f'{path!r} holds no state dict of tensors (top-level type '
                         f'{type(obj).__name__})')
    return dict(obj)
