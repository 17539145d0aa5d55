"""MMEngine checkpoints in plain types, so that they load with nothing allow-listed.

MMEngine 0.10 saves the message hub as ``HistoryBuffer`` objects (whose pickled statistics
methods are references through ``builtins.getattr``) and the dataset metainfo with numpy
arrays. torch's safe unpickler (``torch.load(weights_only=True)``, the default since torch
2.6) refuses both unless their globals are allow-listed, and allow-listing ``getattr`` lets
a crafted file reach ``eval``. Instead, :func:`encode_checkpoint` turns those objects into
tensors, numbers, strings, lists and dicts before a checkpoint is written, with a tag that
:func:`decode_checkpoint` uses to give back the same objects after reading. An encoded file
loads with plain ``torch.load(weights_only=True)``, with or without svip_mm.
"""
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

NDARRAY_TAG = '__svip_mm_ndarray__'
HISTORY_TAG = '__svip_mm_history_buffer__'


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


def _decode_array(tagged: dict) -> Any:
    data, dtype, shape = tagged[NDARRAY_TAG], np.dtype(tagged['dtype']), tuple(tagged['shape'])
    if isinstance(data, torch.Tensor):
        arr = data.numpy().astype(dtype, copy=True)
    elif dtype.kind == 'O':
        arr = np.empty(len(data), dtype=object)
        arr[:] = [decode(v) for v in data]
    else:
        arr = np.array(data, dtype=dtype)
    arr = arr.reshape(shape)
    return arr[()] if tagged.get('scalar') else arr


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


def decode(obj: Any) -> Any:
    """The inverse of :func:`encode` (objects without a tag come back as they are)."""
    if isinstance(obj, dict):
        if NDARRAY_TAG in obj:
            return _decode_array(obj)
        if HISTORY_TAG in obj:
            state = obj[HISTORY_TAG]
            return HistoryBuffer(_decode_array(state['log_history']),
                                 _decode_array(state['count_history']),
                                 max_length=int(state['max_length']))
        items = ((k, decode(v)) for k, v in obj.items())
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
    if isinstance(obj, (list, tuple)):
        items = [decode(v) for v in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def encode_checkpoint(checkpoint: dict) -> None:
    """Encode an MMEngine checkpoint dict in place (every entry but the model weights)."""
    for key in list(checkpoint):
        if key != 'state_dict':
            checkpoint[key] = encode(checkpoint[key])


def decode_checkpoint(checkpoint: dict) -> None:
    """Decode a checkpoint dict in place; a no-op for a checkpoint that was not encoded."""
    for key in list(checkpoint):
        if key != 'state_dict':
            checkpoint[key] = decode(checkpoint[key])
