"""Duplicate class names, refused where class names are read.

Results (predictions, per-class accuracies, figures) name classes by name; two classes of one
name make them ambiguous, and a class table or a dataset holding one twice is almost always a
copy-and-paste error. So each list of names is checked where it is read, with one error
naming the file, every duplicated name and its positions.
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

__all__ = ['duplicate_names_message', 'check_unique_names']

_SHOW = 3  # how many duplicated names a message lists


def duplicate_names_message(names: Sequence[str], what: str, kind: str = 'class name',
                            positions: Optional[Sequence[int]] = None,
                            position_label: str = 'positions') -> Optional[str]:
    """The message for the names of ``names`` that occur more than once, or None.

    Args:
        names: the names in the order read.
        what: where they were read from (a file, a field), starting the message.
        kind: what a name is (``'class name'``).
        positions: what to call each name's position in the message (e.g. CSV line
            numbers); default its 0-based index.
        position_label: the word for ``positions`` (``'positions'``, ``'lines'``).

    Returns:
        ``"<what>: class name 'b' appears 2 times, at positions [1, 4]; ..."`` or None.
    """
    where: Dict[str, List[int]] = defaultdict(list)
    for i, name in enumerate(names):
        where[str(name)].append(i if positions is None else positions[i])
    repeated = [(n, p) for n, p in where.items() if len(p) > 1]
    if not repeated:
        return None
    listed = '; '.join(f'{kind} {n!r} appears {len(p)} times, at {position_label} {p}'
                       for n, p in repeated[:_SHOW])
    more = f' (and {len(repeated) - _SHOW} more names)' if len(repeated) > _SHOW else ''
    return (f'{what}: {listed}{more}; expected each {kind} once (results name classes by '
            'name, so duplicates make them ambiguous)')


def check_unique_names(names: Sequence[str], what: str, kind: str = 'class name',
                       positions: Optional[Sequence[int]] = None,
                       position_label: str = 'positions') -> None:
    """``ValueError`` with :func:`duplicate_names_message`'s message if a name repeats."""
    message = duplicate_names_message(names, what, kind, positions, position_label)
    if message is not None:
        raise ValueError(message)
