"""Strings from MATLAB files, and the attribute-name reader the datasets use.

The attribute names (CUB ``attributes.txt``, AwA2 ``predicates.txt``, SUN ``attributes.mat``)
are read by :func:`svip_mm.embeddings.names.read_attribute_names`, the one reader shared with
the word-vector extraction, so that both see the same names in the same order.
"""
from typing import List

import numpy as np

from svip_mm.embeddings.names import read_attribute_names

__all__ = ['read_attribute_names', 'mat_strings']


def mat_strings(value) -> List[str]:
    """Flatten a cell array (or char array) loaded by ``scipy.io.loadmat`` into strings.

    Args:
        value: object array of shape [n, 1] or [1, n] whose elements are char arrays
            (``array(['name'], dtype='<U4')``), or a plain string array.

    Returns:
        the n strings, in MATLAB's column-major order for [n, 1] / [1, n] cells.
    """
    out = []
    for item in np.asarray(value, dtype=object).ravel(order='F'):
        # A cell element is itself an array (usually shape (1,), empty for '').
        while isinstance(item, np.ndarray):
            if item.size == 0:
                item = ''
            elif item.dtype.kind == 'U' and item.size > 1:
                # A MATLAB char matrix row-split into characters.
                item = ''.join(item.ravel().tolist())
            else:
                item = item.ravel()[0]
        out.append(str(item).strip())
    return out
