"""Finite-number checks for arrays read from files, in the dtype the model computes in.

A NaN or an inf in a class-attribute table, a word-vector file or a checkpoint's class table
does not stop training or inference: it turns every score into ``nan`` and is noticed, if at
all, far from its cause. A value such as ``1e39`` is worse, as it is finite in the float64 a
file is read in and becomes ``inf`` only when the float32 model receives it. So each file is
checked where it is read, against the model's dtype: every value finite and
``|x| <= torch.finfo(dtype).max``, with one error naming the file, the field, the position
(with names where known) and the value.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = ['NonFiniteError', 'non_finite_message', 'check_finite']

# one axis of an array: its label ('class'), or its label and one name per index
Axis = Union[str, Tuple[str, Optional[Sequence]]]
_SHOW = 3  # how many offending positions a message lists


class NonFiniteError(ValueError):
    """An array holds a NaN, an inf or a value beyond the range of the model's dtype."""


def _default_labels(ndim: int) -> Sequence[str]:
    if ndim == 1:
        return ('index', )
    if ndim == 2:
        return ('row', 'column')
    return tuple(f'axis-{d} index' for d in range(ndim))


def _position(index: Sequence[int], axes: Sequence[Axis]) -> str:
    """``(1, 2)`` -> ``"attribute 1, class 2 ('name')"`` with the axes' labels and names."""
    parts = []
    for i, axis in zip(index, axes):
        label, names = (axis, None) if isinstance(axis, str) else axis
        name = f' ({str(names[i])!r})' if names is not None and i < len(names) else ''
        parts.append(f'{label} {int(i)}{name}')
    return ', '.join(parts)


def _as_float64(array) -> np.ndarray:
    """Any array, tensor (bf16 and on a GPU included) or nested list -> float64 numpy."""
    if isinstance(array, torch.Tensor):
        return array.detach().to('cpu', torch.float64).numpy()
    return np.asarray(array, dtype=np.float64)


def non_finite_message(array, what: str, dtype: torch.dtype = torch.float32,
                       axes: Sequence[Axis] = ()) -> Optional[str]:
    """What is wrong with the numbers of ``array`` for a model computing in ``dtype``, or None.

    Args:
        array: any shape; a numpy array, a tensor or a nested list.
        what: names the array in the message: the file and field
            (``"/data/att_splits.mat: field 'att' (attributes x classes)"``).
        dtype: the dtype the model uses the values in; a value beyond its largest finite
            number would become inf there.
        axes: one entry per dimension: a label (``'class'``), or a label and the names of
            its indices (``('class', class_names)``). Default: ``index`` for 1-D arrays,
            ``row`` / ``column`` for 2-D ones.

    Returns:
        ``None`` when every value is finite and within ``dtype``'s range; else one message
        with the number of bad values, the first few with their positions, and what was
        expected.
    """
    try:
        values = _as_float64(array)
    except (TypeError, ValueError) as err:
        return f'{what}: holds values that are not numbers ({err}); expected {dtype} numbers'
    limit = float(torch.finfo(dtype).max)
    # NaN compares False, so one comparison refuses NaN, +-inf and float32 overflow alike
    bad = ~(np.abs(values) <= limit)
    if not bad.any():
        return None
    axes = tuple(axes) or _default_labels(values.ndim)
    if len(axes) != values.ndim:
        raise ValueError(f'{len(axes)} axis labels for a {values.ndim}-D array ({what})')
    where = np.argwhere(bad)[:_SHOW]
    shown = '; '.join(f'{float(values[tuple(i)])!r} at {_position(i, axes)}' for i in where)
    count = int(bad.sum())
    more = f' (first {len(where)} shown)' if count > len(where) else ''
    type_name = str(dtype).replace('torch.', '')
    return (f'{what}: {count} value{"s" if count > 1 else ""} not finite in {type_name}: '
            f'{shown}{more}; expected finite numbers with |x| <= {limit:.4g} (the largest '
            f'{type_name}, the dtype the model computes in)')


def check_finite(array, what: str, dtype: torch.dtype = torch.float32,
                 axes: Sequence[Axis] = ()) -> None:
    """Raise :class:`NonFiniteError` (a ``ValueError``) with :func:`non_finite_message`'s
    message unless every value of ``array`` is finite and within ``dtype``'s range."""
    message = non_finite_message(array, what, dtype, axes)
    if message is not None:
        raise NonFiniteError(message)
