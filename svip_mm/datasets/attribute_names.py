"""Read the attribute names that come with a ZSL dataset.

Supported files (one name per attribute, in the order of the rows of ``att``):

- text, one attribute per line, optionally preceded by its 1-based index:
  CUB ``attributes.txt`` (``1 has_bill_shape::dagger``), AwA2 ``predicates.txt``
  (``1<TAB>black``), or plain names;
- MATLAB ``.mat`` with one cell array of strings: SUN ``attributes.mat`` (variable
  ``attributes``, 102 x 1), or any file whose single variable is such a cell array.
"""
import os.path as osp
import re
from typing import List, Optional

import numpy as np

__all__ = ['read_attribute_names', 'mat_strings']

# "<index><whitespace><name>": the index is dropped, the name keeps inner spaces.
_INDEXED_LINE = re.compile(r'^\s*(\d+)\s+(\S.*?)\s*$')


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


def read_attribute_names(path: str, field: Optional[str] = None) -> List[str]:
    """Read K attribute names from a ``.txt`` or ``.mat`` file (see module docstring).

    Args:
        path: the names file.
        field: variable to read from a ``.mat`` file; by default ``attributes`` or the
            only variable in the file.

    Returns:
        list of K names, index prefixes removed.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: an empty file, or a ``.mat`` file without a usable variable.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'attribute names file not found: {path}')
    if path.lower().endswith('.mat'):
        import scipy.io
        variables = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith('__')}
        if field is None:
            field = 'attributes' if 'attributes' in variables else (
                next(iter(variables)) if len(variables) == 1 else None)
        if field not in variables:
            raise ValueError(f'{path}: expected a variable {field or "attributes"!r} holding a '
                             f'cell array of attribute names, found {sorted(variables)}')
        names = mat_strings(variables[field])
    else:
        with open(path, encoding='utf-8') as f:
            lines = [line.strip() for line in f if line.strip()]
        names = []
        for line in lines:
            m = _INDEXED_LINE.match(line)
            names.append(m.group(2) if m else line)
    if not names:
        raise ValueError(f'{path}: no attribute names found (empty file)')
    return names
