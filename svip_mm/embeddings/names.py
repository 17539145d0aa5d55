"""Reading attribute-name files of the zero-shot benchmarks.

Supported layouts (chosen by extension and content, see
:func:`read_attribute_names`):

* CUB ``attributes/attributes.txt``: ``1 has_bill_shape::dagger`` per line;
* AwA2 ``predicates.txt``: ``1<TAB>black`` per line;
* SUN ``attributes.mat``: a MATLAB (v5/v7) file with a cell array of names
  (variable ``attributes``), read with :func:`scipy.io.loadmat`;
* a plain text file, one name per line.

Numbered files must be numbered 1, 2, 3, ... in order, so that row ``i`` of
the embedding matrix is attribute ``i`` of the dataset.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Optional, Union

import numpy as np

__all__ = ['read_attribute_names']

_NUMBERED_RE = re.compile(r'^\s*(\d+)[ \t]+(\S.*?)\s*$')


def read_attribute_names(path: Union[str, os.PathLike], key: Optional[str] = None) -> List[str]:
    """Read attribute names from a CUB, AwA2, SUN or one-name-per-line file.

    Args:
        path: ``.mat`` files are read as MATLAB cell arrays; anything else as
            text (UTF-8, an optional BOM and CRLF line ends accepted). A text
            file whose every non-blank line starts with a number and white
            space is read as numbered (CUB, AwA2); otherwise each non-blank
            line is one name.
        key: For ``.mat`` files, the variable holding the names. By default
            ``attributes`` if present, else the only variable in the file.

    Returns:
        The names, in file order.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'attribute-name file not found: {path}')
    if path.suffix.lower() == '.mat':
        return _read_mat(path, key)
    if key is not None:
        raise ValueError(f'key={key!r} applies only to .mat files, not {path}')
    return _read_text(path)


def _read_text(path: Path) -> List[str]:
    try:
        text = path.read_text(encoding='utf-8-sig')
    except UnicodeDecodeError as exc:
        raise ValueError(f'{path}: attribute-name file is not UTF-8 text ({exc.reason} at byte '
                         f'{exc.start})') from None
    lines = [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        raise ValueError(f'{path}: no attribute names (the file is empty)')
    matches = [(i, _NUMBERED_RE.match(ln)) for i, ln in lines]
    if not all(m for _, m in matches):
        return [ln for _, ln in lines]
    names = []
    for expected, (lineno, m) in enumerate(matches, 1):
        if int(m.group(1)) != expected:
            raise ValueError(f'{path}:{lineno}: attribute number {m.group(1)} where {expected} was '
                             'expected (numbered names must run 1, 2, 3, ... in order)')
        names.append(m.group(2))
    return names


def _read_mat(path: Path, key: Optional[str]) -> List[str]:
    import scipy.io
    try:
        content = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise ValueError(f'{path}: MATLAB v7.3 (HDF5) files are not supported; save the names '
                         "as a v7 .mat file (save(..., '-v7')) or a text file, one per line") from None
    except Exception as exc:  # scipy raises several types for non-MAT input
        raise ValueError(f'{path}: not a readable MATLAB .mat file ({exc})') from None
    variables = sorted(k for k in content if not k.startswith('__'))
    if key is None:
        if 'attributes' in content:
            key = 'attributes'
        elif len(variables) == 1:
            key = variables[0]
        else:
            raise ValueError(f'{path}: cannot tell which variable holds the attribute names; '
                             f'found {variables}, pass key=... (expected a cell array such as '
                             "SUN's 'attributes')")
    if key not in content:
        raise KeyError(f'{path}: no variable {key!r}; found {variables}')
    names = _mat_strings(content[key], f'{path}[{key!r}]')
    if not names:
        raise ValueError(f'{path}: variable {key!r} holds no attribute names')
    return names


def _mat_strings(value, where: str) -> List[str]:
    """Flatten a loadmat cell array (or char matrix) of strings to a list."""
    arr = np.asarray(value)
    if arr.dtype.kind == 'U':  # char matrix: one row per name
        return [str(s).strip() for s in arr.reshape(-1)]
    if arr.dtype != object:
        raise ValueError(f'{where}: expected a cell array of strings, got a {arr.dtype} array '
                         f'of shape {arr.shape}')
    names = []
    for i, cell in enumerate(arr.reshape(-1, order='F')):
        item = np.asarray(cell)
        if item.dtype.kind != 'U':
            raise ValueError(f'{where}: cell {i + 1} is not a string ({item.dtype}, shape '
                             f'{item.shape})')
        flat = item.reshape(-1)
        if flat.size > 1:
            raise ValueError(f'{where}: cell {i + 1} holds {flat.size} strings, expected one')
        name = str(flat[0]).strip() if flat.size else ''
        if not name:
            raise ValueError(f'{where}: cell {i + 1} is an empty name')
        names.append(name)
    return names
