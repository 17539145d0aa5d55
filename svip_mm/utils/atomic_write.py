"""Writing files atomically: each file is written under a fresh hidden name next to it, which then
replaces it (``os.replace``), so that a reader never sees a half-written file; if a write fails,
the temporary files are removed and nothing is replaced."""
import os
import secrets
from pathlib import Path
from typing import Any, Callable, Sequence, Tuple, Union

PathLike = Union[str, os.PathLike]
#: Writes the file at the path it is given (e.g. ``Image.save``, a ``torch.save`` partial).
Writer = Callable[[Path], Any]

__all__ = ['temporary_name', 'write_atomic', 'write_all_atomic']


def temporary_name(path: PathLike, keep_suffix: bool = False) -> Path:
    """A fresh hidden name next to ``path`` (not created).

    ``.<name>.tmp-<pid>-<random>`` by default: everything before the last dot is ``.<name>``,
    so ``torch.save``, which names the folder inside its zip file after that part, writes the
    same bytes in every run. With ``keep_suffix``: ``.<stem>.<pid>-<random>.tmp<suffix>``, for
    writers that choose the format by the suffix (PIL, ``scipy.io.savemat``).
    """
    path = Path(path)
    tag = f'{os.getpid()}-{secrets.token_hex(4)}'
    if keep_suffix:
        return path.with_name(f'.{path.stem}.{tag}.tmp{path.suffix}')
    return path.with_name(f'.{path.name}.tmp-{tag}')


def write_atomic(path: PathLike, write: Writer, keep_suffix: bool = False) -> None:
    """``write(temporary)``, then the temporary file replaces ``path``; see
    :func:`write_all_atomic`."""
    write_all_atomic([(path, write)], keep_suffix=keep_suffix)


def write_all_atomic(writes: Sequence[Tuple[PathLike, Writer]], keep_suffix: bool = False) -> None:
    """Write several files, all or none: ``write(temporary)`` for each ``(path, write)`` into
    a :func:`temporary_name` next to ``path``, then each temporary file replaces its path, in
    the given order (so a file written earlier in the list is in place before a later one).

    Each temporary file is created (empty, exclusively) before its write, so the cleanup never
    removes a file of someone else's. If a write raises, every temporary file is removed and no
    path is replaced.
    """
    temps = []
    try:
        for path, write in writes:
            temp = temporary_name(path, keep_suffix)
            open(temp, 'xb').close()
            temps.append(temp)
            write(temp)
        for temp, (path, _) in zip(temps, writes):
            os.replace(temp, path)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
