"""One training run per work dir: an advisory lock file that the operating system releases.

Two runs in one work dir interleave their logs and overwrite each other's checkpoints. The
first run holds ``<work_dir>/.svip_mm_train.lock`` for as long as it trains; a second run, from
any process, is refused with the first run's pid and command line.

The lock is a POSIX record lock (``fcntl.lockf``, ``F_SETLK``), which belongs to the process
that took it: the processes it forks (DataLoader workers) do not inherit it, and the kernel
drops it when that process ends, however it ends. (An ``flock`` lock, used before, is shared
with every forked worker, so after a ``kill -9`` the orphaned workers kept the work dir locked.)
A record lock is also dropped when the process closes *any* descriptor of the file, so this
module keeps exactly one descriptor per work dir per process, opened close-on-exec, and
nothing else in svip_mm opens the lock file. The file itself is never deleted. Within one
process the lock is re-entrant, so a notebook can train again in the same work dir after an
error.
"""
import errno
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

# work dir (real path) -> [file descriptor, holders, pid of the process that took the lock]
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
    if key in _held and _held[key][2] != os.getpid():
        # inherited through fork: the lock is the parent's, not this process's
        os.close(_held.pop(key)[0])
    if key in _held:
        _held[key][1] += 1
        return
    path = osp.join(key, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # from offset 0 to the end, and beyond
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EAGAIN):
            os.close(fd)
            raise
        holder = os.read(fd, 4096).decode('utf-8', 'replace').strip() or 'unknown'
        os.close(fd)  # holds no lock of this process, so closing it drops nothing
        raise WorkDirLockedError(
            f'work dir {work_dir!r} is in use by another training run ({holder}); two runs in '
            'one work dir would overwrite each other\'s checkpoints. Wait for it to finish, '
            'or give this run another --work-dir.') from None
    os.ftruncate(fd, 0)
    os.write(fd, (f'pid {os.getpid()} on {socket.gethostname()}, started '
                  f'{time.strftime("%Y-%m-%d %H:%M:%S")}: {" ".join(sys.argv)}\n').encode())
    _held[key] = [fd, 1, os.getpid()]


def unlock_work_dir(work_dir: str) -> None:
    """Release one hold of the lock taken by :func:`lock_work_dir` in this process."""
    key = osp.realpath(work_dir)
    if key not in _held or _held[key][2] != os.getpid():
        return
    _held[key][1] -= 1
    if _held[key][1] == 0:
        fd = _held.pop(key)[0]
        os.close(fd)  # closing the process's only descriptor of the file drops its lock
