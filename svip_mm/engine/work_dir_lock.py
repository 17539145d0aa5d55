"""One training run per work dir: an advisory lock file that the operating system releases.

Two runs in one work dir interleave their logs and overwrite each other's checkpoints. The
first run holds ``<work_dir>/.svip_mm_train.lock`` with ``fcntl.flock`` for as long as it
trains; a second run, from any process, is refused with the first run's pid and command line.
The kernel drops the lock when the holding process ends, however it ends (a killed run
leaves no stale lock), so the file itself is never deleted. Within one process the lock is
re-entrant, so a notebook can train again in the same work dir after an error.
"""
import os
import os.path as osp
import socket
import sys
import time
from typing import Dict, List

try:
    import fcntl
except ImportError:  # Windows: no advisory locks through fcntl; runs are not guarded there
    fcntl = None

LOCK_NAME = '.svip_mm_train.lock'

# work dir (real path) -> [file descriptor, holders in this process]
_held: Dict[str, List[int]] = {}


class WorkDirLockedError(RuntimeError):
    """Another process is training in the work dir."""


def lock_work_dir(work_dir: str) -> None:
    """Take the training lock of ``work_dir`` (created if absent).

    Raises:
        WorkDirLockedError: another process holds it; the message says which.
    """
    if fcntl is None:
        return
    os.makedirs(work_dir, exist_ok=True)
    key = osp.realpath(work_dir)
    if key in _held:
        _held[key][1] += 1
        return
    path = osp.join(key, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode('utf-8', 'replace').strip() or 'unknown'
        os.close(fd)
        raise WorkDirLockedError(
            f'work dir {work_dir!r} is in use by another training run ({holder}); two runs in '
            'one work dir would overwrite each other\'s checkpoints. Wait for it to finish, '
            'or give this run another --work-dir.') from None
    os.ftruncate(fd, 0)
    os.write(fd, (f'pid {os.getpid()} on {socket.gethostname()}, started '
                  f'{time.strftime("%Y-%m-%d %H:%M:%S")}: {" ".join(sys.argv)}\n').encode())
    _held[key] = [fd, 1]


def unlock_work_dir(work_dir: str) -> None:
    """Release one hold of the lock taken by :func:`lock_work_dir` in this process."""
    key = osp.realpath(work_dir)
    if key not in _held:
        return
    _held[key][1] -= 1
    if _held[key][1] == 0:
        fd = _held.pop(key)[0]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
