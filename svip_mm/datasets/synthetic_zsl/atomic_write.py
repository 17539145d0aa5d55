"""Writing a file atomically: into a hidden sibling that then replaces the target."""
import os
import secrets
from pathlib import Path
from typing import Any, Callable

def _write(path: Path, write: Callable[[Path], Any], atomic: bool) -> None:
    """``write(path)``; with ``atomic``, into a hidden sibling that then replaces ``path``, so
    that a reader of a dataset in use never sees a half-written file. The sibling keeps the
    suffix: PIL and scipy choose the format by it."""
    if not atomic:
        write(path)
        return
    tmp = path.with_name(f'.{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}')
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
