"""Arrays given in a config: an array, a nested list, a tensor or a ``.npy`` path."""
import os
from typing import Union

import numpy as np
import torch

ArrayLike = Union[str, os.PathLike, np.ndarray, torch.Tensor, list]


def read_array(value: ArrayLike, what: str, hint: str = '') -> np.ndarray:
    """``value`` as a numpy array; a path is read with ``np.load`` (no pickles).

    Args:
        what: names the array in the error for a missing file (e.g. ``'word-vector'``).
        hint: appended to that error (what the file should hold).
    """
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path!r} '
                                    f'({hint or "expected a .npy array"})')
        value = np.load(path, allow_pickle=False)
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value)
