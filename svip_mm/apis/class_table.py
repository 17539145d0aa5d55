"""Class tables for inference: class names, class attribute vectors and unseen flags.

A zero-shot model scores classes by their attribute vectors, so a class it never saw, even
one absent from every dataset, is one row of attribute values away. :class:`ClassTable` holds
such a table (checked against the model's attribute count) and :func:`load_class_table` reads
one from a file:

- ``.csv``: one class per row, the class name in the first column, then the ``K`` attribute
  values. An optional header row (no number in it) names the columns
  (``name, [unseen,] <attribute names>``); with a header, an ``unseen`` column (1/0,
  true/false, yes/no) marks unseen classes and the attribute columns, when the model's
  attribute names are known, must be those names in the model's order.
- ``.npy``: a ``[C, K]`` array; the class names come from a separate list (or default to
  ``class_0`` ...).
"""
import csv
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..models.heads.class_table import normalise_class_attributes
from ..utils.finite import check_finite
from ..utils.unique_names import check_unique_names

__all__ = ['ClassTable', 'load_class_table', 'normalise_rows']

_TRUE = {'1', 'true', 'yes', 'y', 'unseen'}
_FALSE = {'0', 'false', 'no', 'n', 'seen', ''}


def normalise_rows(matrix) -> torch.Tensor:
    """``[C, K]`` -> float32 rows divided by (L2 norm + 1e-5), the attribute head's own
    normalisation (:meth:`SemanticAttributeHead.set_class_attributes`)."""
    return normalise_class_attributes(torch.as_tensor(np.asarray(matrix, dtype=np.float32)))


@dataclass
class ClassTable:
    """The classes an inferencer scores.

    Attributes:
        names: ``C`` class names.
        rows: ``[C, K]`` float32 class attribute vectors, L2-normalised as the head does.
        unseen: ``[C]`` bool, True for classes the model was not trained on.
        source: where the table came from (``'checkpoint'`` or a description).
    """
    names: List[str]
    rows: torch.Tensor
    unseen: np.ndarray
    source: str = 'user'

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def build(cls, names: Sequence[str], attribute_matrix, num_attributes: int,
              unseen: Union[bool, Sequence[bool]] = True, source: str = 'user',
              normalise: bool = True,
              prepare: Optional[Callable[[np.ndarray], torch.Tensor]] = None
              ) -> 'ClassTable':
        """Check and normalise a table.

        Args:
            names: one name per row.
            attribute_matrix: ``[C, K]`` attribute values (array, tensor or nested list).
            num_attributes: the model's ``K``.
            unseen: one bool for all classes, or one per class.
            source: where the table came from, for errors and ``classes.source``.
            normalise: L2-normalise the rows (False when they already are, e.g. the head's
                own buffer).
            prepare: the head's rule for its rows, ``[C, K]`` array -> ``[C, K]`` tensor
                (``class_table_rows`` of a ZSL head, e.g. TransZero's clipping of negative
                values before the normalisation); used instead of ``normalise``.

        Raises:
            ValueError: naming the field, its value and what was expected: a wrong shape, a
                NaN, inf or beyond-float32 value, a name given twice, an all-zero row.
        """
        if isinstance(attribute_matrix, torch.Tensor):
            attribute_matrix = attribute_matrix.detach().cpu().numpy()
        try:
            att = np.asarray(attribute_matrix, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f'attribute_matrix must be numbers [num_classes, '
                             f'num_attributes={num_attributes}]: {err}') from None
        if att.ndim == 1 and att.size == num_attributes:
            att = att[None]
        if att.ndim != 2 or att.shape[1] != num_attributes:
            raise ValueError(f'attribute_matrix has shape {att.shape}; expected [num_classes, '
                             f'{num_attributes}] (the model has {num_attributes} attributes)')
        if att.shape[0] == 0:
            raise ValueError('attribute_matrix has no rows; expected at least one class')
        names = [str(n) for n in names]
        # in float32, the head's dtype: 1e39 is finite here but inf (then nan scores) there
        check_finite(att, f'attribute_matrix of the class table ({source})',
                     axes=(('class', names), 'attribute'))
        if len(names) != att.shape[0]:
            raise ValueError(f'{len(names)} class names for {att.shape[0]} attribute rows; '
                             'expected one name per row')
        check_unique_names(names, f'class table ({source})')
        zero = np.flatnonzero(np.abs(att).sum(1) == 0)
        if zero.size:
            raise ValueError(f'class {names[zero[0]]!r} (row {zero[0]}) has an all-zero '
                             'attribute vector; expected at least one non-zero attribute')
        if isinstance(unseen, (bool, np.bool_)):
            flags = np.full(att.shape[0], bool(unseen))
        else:
            flags = np.asarray([bool(u) for u in unseen])
            if flags.shape != (att.shape[0], ):
                raise ValueError(f'unseen has {flags.size} flags for {att.shape[0]} classes; '
                                 'expected one bool for all or one per class')
        if prepare is not None:
            rows = torch.as_tensor(prepare(att), dtype=torch.float32)
        else:
            rows = normalise_rows(att) if normalise else torch.as_tensor(att,
                                                                         dtype=torch.float32)
        return cls(names, rows, flags, source)

    def extended(self, other: 'ClassTable') -> 'ClassTable':
        """This table followed by ``other``'s classes (their names must all differ)."""
        check_unique_names(self.names + other.names,
                           f'class table {self.source} extended by {other.source}')
        return ClassTable(self.names + other.names, torch.cat([self.rows, other.rows]),
                          np.concatenate([self.unseen, other.unseen]),
                          f'{self.source} + {other.source}')


def _parse_flag(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f'{where}: unseen flag {value!r} is not one of 1/0, true/false, yes/no')


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def load_class_table(path: str, attribute_names: Optional[Sequence[str]] = None,
                     class_names: Optional[Sequence[str]] = None
                     ) -> Tuple[List[str], np.ndarray, Optional[np.ndarray]]:
    """Read a class-attribute table file (see the module docstring for the formats).

    Args:
        path: a ``.csv`` or ``.npy`` file.
        attribute_names: the model's attribute names, to check a CSV header against.
        class_names: names for the rows of a ``.npy`` table (default ``class_<i>``).

    Returns:
        ``(names, matrix [C, K] float64, unseen [C] bool or None)``; None when the file does
        not say which classes are unseen.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unknown extension or a malformed table (naming the row and column):
            a value that is not a number, NaN, inf or beyond float32's range; a class name
            given twice (naming its lines).
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'class table not found: {path!r} (expected a .csv or .npy '
                                'file)')
    ext = osp.splitext(path)[1].lower()
    if ext == '.npy':
        matrix = np.load(path, allow_pickle=False)
        if matrix.ndim != 2:
            raise ValueError(f'{path}: the array has shape {matrix.shape}; expected '
                             '[num_classes, num_attributes]')
        names = (list(class_names) if class_names is not None else
                 [f'class_{i}' for i in range(matrix.shape[0])])
        if len(names) != matrix.shape[0]:
            raise ValueError(f'{path}: {matrix.shape[0]} rows but {len(names)} class names')
        check_unique_names(names, f'{path}: the class names of its rows')
        check_finite(matrix, f'{path} [num_classes, num_attributes]',
                     axes=(('class', names), 'attribute'))
        return names, matrix.astype(np.float64), None
    if ext != '.csv':
        raise ValueError(f'{path}: unknown class-table extension {ext!r}; expected .csv or .npy')
    with open(path, newline='') as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f'{path}: the class table is empty')
    header = None
    if not any(_is_number(c) for c in rows[0][1:]):  # a header names every column
        header, rows = [c.strip() for c in rows[0]], rows[1:]
        if not rows:
            raise ValueError(f'{path}: the class table has a header but no class rows')
    unseen_col = None
    attr_cols = None
    if header is not None:
        lowered = [h.lower() for h in header]
        unseen_col = lowered.index('unseen') if 'unseen' in lowered[1:] else None
        attr_cols = [i for i in range(1, len(header)) if i != unseen_col]
        if attribute_names is not None:
            got = [header[i] for i in attr_cols]
            want = [str(a) for a in attribute_names]
            if len(got) == len(want) and got != want:
                i = next(j for j, (g, w) in enumerate(zip(got, want)) if g != w)
                raise ValueError(f'{path}: attribute column {i + 1} is named {got[i]!r} but the '
                                 f'model\'s attribute {i} is {want[i]!r}; expected the model\'s '
                                 'attribute names in its order (or no header)')
    names, values, flags, lines = [], [], [], []
    for n, row in enumerate(rows, start=2 if header is not None else 1):
        cols = attr_cols if attr_cols is not None else list(range(1, len(row)))
        if header is not None and len(row) != len(header):
            raise ValueError(f'{path}, line {n}: {len(row)} columns; the header has '
                             f'{len(header)}')
        names.append(row[0].strip())
        lines.append(n)
        try:
            values.append([float(row[i]) for i in cols])
        except ValueError:
            bad = next(row[i] for i in cols if not _is_number(row[i]))
            raise ValueError(f'{path}, line {n}: attribute value {bad!r} is not a number') \
                from None
        # float('nan'), 'inf' and '1e39' all parse; the float32 model would score them nan
        check_finite(values[-1], f'{path}, line {n} (class {names[-1]!r})',
                     axes=(('attribute', None if header is None else
                            [header[i] for i in cols]), ))
        if unseen_col is not None:
            flags.append(_parse_flag(row[unseen_col], f'{path}, line {n}'))
    check_unique_names(names, path, positions=lines, position_label='lines')
    widths = {len(v) for v in values}
    if len(widths) != 1:
        raise ValueError(f'{path}: rows have different numbers of attribute values '
                         f'{sorted(widths)}; expected the same K in every row')
    return names, np.asarray(values, dtype=np.float64), (np.asarray(flags) if flags else None)
