"""MMEngine checkpoints in plain types, so that they load with nothing allow-listed.

MMEngine 0.10 saves the message hub as ``HistoryBuffer`` objects (whose pickled statistics
methods are references through ``builtins.getattr``) and the dataset metainfo with numpy
arrays. torch's safe unpickler (``torch.load(weights_only=True)``, the default since torch
2.6) refuses both unless their globals are allow-listed, and allow-listing ``getattr`` lets
a crafted file reach ``eval``. Instead, :func:`encode_checkpoint` turns those objects into
tensors, numbers, strings, lists and dicts before a checkpoint is written, with a tag that
:func:`decode_checkpoint` uses to give back the same objects after reading. An encoded file
loads with plain ``torch.load(weights_only=True)``, with or without svip_mm.

Decoding trusts nothing in the file: a tagged array must have a dtype of :func:`plain_dtype`'s
whitelist (or ``object``, with its items decoded in turn), a shape that its data fills exactly,
and a tensor's dtype when its data is a tensor; all the numpy data one call decodes is bounded
(``max_bytes``, which the safe reader sets to the file's size plus a margin), so that a few
bytes cannot ask for gigabytes; nesting is bounded (:data:`MAX_DEPTH`), a container that holds
itself is refused, and an object shared by many paths is decoded once (and stays shared).
Anything else is a :class:`CheckpointFormatError` that says where in the checkpoint it is.
"""
import math
import re
import reprlib
from collections import OrderedDict
from typing import Any, Callable, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

NDARRAY_TAG = '__svip_mm_ndarray__'
HISTORY_TAG = '__svip_mm_history_buffer__'
_ARRAY_FIELDS = {NDARRAY_TAG, 'dtype', 'shape', 'scalar'}
_HISTORY_FIELDS = {'log_history', 'count_history', 'max_length'}
_LEAF_TYPES = (bool, int, float, complex, str, bytes)

# deeper than any checkpoint MMEngine writes (about 10 levels), far below Python's recursion
# limit
MAX_DEPTH = 100
MAX_NDIM = 32  # numpy's own limit was 32 before numpy 2 (64 now)

# bool, integers, floats, complex and fixed-width strings, optionally with a byte order: the
# dtypes numpy can rebuild from bytes or a list of numbers / strings without reading pointers
_PLAIN_DTYPE = re.compile(r'[<>|=]?(b1|[iu][1248]|f(2|4|8|16)|c(8|16|32)|[SU][1-9][0-9]{0,9})')


class CheckpointFormatError(ValueError):
    """Data in a checkpoint that svip_mm's format does not describe, or that is too large or
    too deep to decode; the message says where in the checkpoint it is."""


def plain_dtype(spec: Any) -> np.dtype:
    """The numpy dtype that ``spec`` (a dtype string such as ``'<f4'`` or ``'<U12'``) names,
    if it is one of the whitelisted plain dtypes (see ``_PLAIN_DTYPE``).

    Raises:
        CheckpointFormatError: another dtype (object, void, structured, datetime, ...).
    """
    if isinstance(spec, str) and _PLAIN_DTYPE.fullmatch(spec):
        try:
            return np.dtype(spec)
        except TypeError:  # a width numpy cannot represent
            pass
    raise CheckpointFormatError(
        f'dtype {spec!r} is not one svip_mm reads from a checkpoint: expected bool, '
        'integer, float, complex or a fixed-width string (e.g. "<f4", "|b1", "<U12")')


def _encode_array(arr: np.ndarray, scalar: bool = False) -> dict:
    """An ndarray as a tensor (numeric dtypes torch has) or a nested list, with its dtype."""
    if arr.dtype.kind in 'biufc':
        try:
            data = torch.from_numpy(np.ascontiguousarray(arr)).clone()
        except TypeError:  # dtypes torch lacks (e.g. uint32 on older torch)
            data = arr.tolist()
    elif arr.dtype.kind == 'O':
        data = [encode(v) for v in arr.ravel().tolist()]
    else:  # strings, bytes, datetimes: numpy rebuilds them from lists with the dtype
        data = arr.tolist()
    return {NDARRAY_TAG: data, 'dtype': arr.dtype.str, 'shape': list(arr.shape),
            'scalar': scalar}


def encode(obj: Any) -> Any:
    """``obj`` with every HistoryBuffer, numpy array and numpy scalar replaced by tagged plain
    data, and every mapping subclass (e.g. ``ConfigDict``) by a dict; tensors, numbers and
    strings are returned as they are. Objects of other types are left in place (torch will
    then need them allow-listed to load the file, and says so)."""
    if isinstance(obj, HistoryBuffer):
        log_history, count_history = obj.data
        return {HISTORY_TAG: {'log_history': _encode_array(np.asarray(log_history)),
                              'count_history': _encode_array(np.asarray(count_history)),
                              'max_length': int(obj.max_length)}}
    if isinstance(obj, np.ndarray):
        return _encode_array(obj)
    if isinstance(obj, np.generic):
        return _encode_array(np.asarray(obj), scalar=True)
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, OrderedDict):  # allowed by torch's unpickler; MMEngine uses it
        return OrderedDict((k, encode(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [encode(v) for v in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def _key(key: Any) -> str:
    """A dict key or index as a location shows it (reprlib: long or deep keys cut)."""
    return f'[{reprlib.repr(key)}]'


def _shape(value: Any, where: str) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_NDIM or not all(
            type(n) is int and n >= 0 for n in value):
        raise CheckpointFormatError(
            f'{where}: array shape {value!r} is not a list of at most {MAX_NDIM} '
            'non-negative integers')
    return tuple(value)


def _flatten(data: list, shape: tuple, where: str) -> list:
    """The leaves of nested lists that fill ``shape`` exactly (as ``ndarray.tolist`` wrote)."""
    if not shape:
        return _flatten([data], (1,), where)
    if not isinstance(data, list) or len(data) != shape[0]:
        got = f'{len(data)} items' if isinstance(data, list) else type(data).__name__
        raise CheckpointFormatError(f'{where}: array data does not fill its shape {shape} '
                                    f'({got} where {shape[0]} were expected)')
    if len(shape) == 1:
        bad = next((v for v in data if not isinstance(v, _LEAF_TYPES)), None)
        if bad is not None:
            raise CheckpointFormatError(f'{where}: array data holds a {type(bad).__name__} '
                                        'where numbers or strings were expected')
        return data
    return [leaf for item in data for leaf in _flatten(item, shape[1:], where)]


class Decoder:
    """Decodes one checkpoint: a walk over its dicts, lists and tuples that keeps every
    bound of the module docstring (one instance per checkpoint: it holds the byte budget
    and the objects already decoded).

    Args:
        max_bytes: the most numpy data (bytes) that the whole walk may create; None for no
            bound (data that is not from a file).
        replace: called with each object that is not a dict, list, tuple or tensor, and this
            decoder; returns what stands in its place (the safe reader turns its unpickling
            stand-ins into numpy objects with it). By default such objects stay as they are.
    """

    def __init__(self, max_bytes: Optional[int] = None,
                 replace: Optional[Callable[[Any, 'Decoder', str], Any]] = None):
        self.left = max_bytes
        self.replace = replace
        self._done = {}  # (id, decode tags?) -> the decoded object, so a shared one stays shared
        self._open = set()  # ids of the containers on the path being walked: a cycle

    def take(self, nbytes: int, where: str) -> None:
        """Count ``nbytes`` of numpy data against the budget, before it is allocated."""
        if self.left is None:
            return
        if nbytes > self.left:
            raise CheckpointFormatError(
                f'{where}: decoding it would make the numpy data of this checkpoint larger '
                f'than the file allows ({nbytes} more bytes, {self.left} left of the bound): '
                'a tagged array or numpy object that declares more data than the file holds')
        self.left -= nbytes

    def __call__(self, obj: Any, where: str = 'checkpoint', depth: int = 0,
                 tags: bool = True) -> Any:
        if isinstance(obj, torch.Tensor) or not isinstance(obj, (dict, list, tuple)):
            return obj if self.replace is None or isinstance(obj, torch.Tensor) else \
                self.replace(obj, self, where)
        key = (id(obj), tags)
        if key in self._done:
            return self._done[key]
        if id(obj) in self._open:
            raise CheckpointFormatError(f'{where} contains itself (a cycle): a checkpoint '
                                        'is a tree of dicts and lists')
        if depth >= MAX_DEPTH:
            raise CheckpointFormatError(f'{where}: nested deeper than {MAX_DEPTH} levels')
        self._open.add(id(obj))
        try:
            result = self._container(obj, where, depth, tags)
        finally:
            self._open.discard(id(obj))
        self._done[key] = result
        return result

    def _container(self, obj: Any, where: str, depth: int, tags: bool) -> Any:
        if isinstance(obj, dict):
            if tags and NDARRAY_TAG in obj:
                return self.array(obj, where, depth)
            if tags and HISTORY_TAG in obj:
                return self._history_buffer(obj, where, depth)
            items = [(k, self(v, where + _key(k), depth + 1, tags)) for k, v in obj.items()]
            if all(new is old for (_, new), old in zip(items, obj.values())):
                return obj  # unchanged: keeps e.g. a state_dict's _metadata
            if isinstance(obj, OrderedDict):
                out = OrderedDict(items)
                out.__dict__.update(obj.__dict__)
                return out
            return dict(items)
        items = [self(v, where + _key(i), depth + 1, tags) for i, v in enumerate(obj)]
        if all(new is old for new, old in zip(items, obj)):
            return obj
        return items if isinstance(obj, list) else tuple(items)

    def array(self, tagged: dict, where: str, depth: int) -> Any:
        """A tagged array (see :func:`_encode_array`), checked before anything is allocated."""
        unknown = set(tagged) - _ARRAY_FIELDS
        if unknown or not {NDARRAY_TAG, 'dtype', 'shape'} <= set(tagged):
            raise CheckpointFormatError(
                f'{where}: a tagged array with the fields {sorted(map(str, tagged))}; '
                f'expected {sorted(_ARRAY_FIELDS)}')
        data, spec, scalar = tagged[NDARRAY_TAG], tagged['dtype'], tagged.get('scalar', False)
        shape = _shape(tagged['shape'], where)
        if not isinstance(scalar, bool) or (scalar and shape):
            raise CheckpointFormatError(f'{where}: scalar={scalar!r} with shape {shape}')
        count = math.prod(shape)
        if spec == '|O':  # an object array: its items are plain data, decoded in turn
            if not isinstance(data, list) or len(data) != count:
                raise CheckpointFormatError(
                    f'{where}: an object array of shape {shape} needs a list of {count} items')
            self.take(8 * count, where)
            arr = np.empty(count, dtype=object)
            arr[:] = [self(v, where + _key(i), depth + 1) for i, v in enumerate(data)]
            arr = arr.reshape(shape)
        else:
            try:
                dtype = plain_dtype(spec)
            except CheckpointFormatError as err:
                raise CheckpointFormatError(f'{where}: {err}') from None
            if isinstance(data, torch.Tensor):
                arr = self._from_tensor(data, dtype, shape, where)
            elif isinstance(data, list):
                leaves = _flatten(data, shape, where)
                self.take(count * dtype.itemsize, where)
                try:
                    arr = np.array(leaves, dtype=dtype).reshape(shape)
                except (TypeError, ValueError, OverflowError) as err:
                    raise CheckpointFormatError(
                        f'{where}: array data that is not {dtype.str}: {err}') from None
            else:
                raise CheckpointFormatError(f'{where}: array data of type '
                                            f'{type(data).__name__}; expected a tensor or a list')
        return arr[()] if scalar else arr

    def _from_tensor(self, data: torch.Tensor, dtype: np.dtype, shape: tuple,
                     where: str) -> np.ndarray:
        # encode wrote torch.from_numpy of the array itself: the same element type and count
        if data.numel() != math.prod(shape):
            raise CheckpointFormatError(f'{where}: array shape {shape} does not match its '
                                        f'data ({data.numel()} elements)')
        try:
            arr = data.detach().cpu().numpy()
        except (TypeError, RuntimeError) as err:  # e.g. bfloat16, which numpy lacks
            raise CheckpointFormatError(f'{where}: array data of {data.dtype}: {err}') from None
        if arr.dtype.kind != dtype.kind or arr.dtype.itemsize != dtype.itemsize:
            raise CheckpointFormatError(f'{where}: array dtype {dtype.str} does not match its '
                                        f'data ({data.dtype})')
        self.take(arr.nbytes, where)
        return arr.astype(dtype, copy=True).reshape(shape)

    def _history_buffer(self, obj: dict, where: str, depth: int) -> HistoryBuffer:
        state = obj[HISTORY_TAG]
        if len(obj) != 1 or not isinstance(state, dict) or set(state) != _HISTORY_FIELDS:
            raise CheckpointFormatError(
                f'{where}: a tagged HistoryBuffer must be {{{HISTORY_TAG!r}: a dict with '
                f'{sorted(_HISTORY_FIELDS)}}}')
        histories = []
        for name in ('log_history', 'count_history'):
            value = state[name]
            if not isinstance(value, dict) or NDARRAY_TAG not in value:
                raise CheckpointFormatError(f'{where}: HistoryBuffer {name} is not a tagged '
                                            'array')
            histories.append(self.array(value, where + _key(name), depth + 1))
        return history_buffer(*histories, state['max_length'], where)


def history_buffer(log_history: Any, count_history: Any, max_length: Any,
                   where: str) -> HistoryBuffer:
    """A HistoryBuffer from checked fields: two 1-D numeric arrays of one length and a
    positive integer (the safe reader's legacy stand-in ends here too)."""
    ok = all(isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind in 'biuf'
             for a in (log_history, count_history))
    if not ok or len(log_history) != len(count_history) or type(max_length) is not int \
            or max_length < 1:
        raise CheckpointFormatError(
            f'{where}: a HistoryBuffer needs two 1-D numeric arrays of one length and a '
            f'positive integer max_length, got {type(log_history).__name__}, '
            f'{type(count_history).__name__} and {max_length!r}')
    return HistoryBuffer(log_history, count_history, max_length=max_length)


def decode(obj: Any) -> Any:
    """The inverse of :func:`encode` (objects without a tag come back as they are).

    Raises:
        CheckpointFormatError: malformed tags, a cycle or too deep a nesting.
    """
    return Decoder()(obj, 'value')


def encode_checkpoint(checkpoint: dict) -> None:
    """Encode an MMEngine checkpoint dict in place (every entry but the model weights)."""
    for key in list(checkpoint):
        if key != 'state_dict':
            checkpoint[key] = encode(checkpoint[key])


def decode_checkpoint(checkpoint: dict, decoder: Optional[Decoder] = None) -> None:
    """Decode a checkpoint dict in place; a no-op for a checkpoint that was not encoded.

    The model weights (``state_dict``) are walked for the bounds but not decoded.

    Raises:
        CheckpointFormatError: see the module docstring.
    """
    decoder = decoder or Decoder()
    decoder._open.add(id(checkpoint))  # an entry that holds the checkpoint itself is a cycle
    for key in list(checkpoint):
        checkpoint[key] = decoder(checkpoint[key], 'checkpoint' + _key(key), 1,
                                  tags=key != 'state_dict')
    decoder._open.discard(id(checkpoint))
