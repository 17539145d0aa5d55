"""MMEngine's local file backend, writing each file whole or not at all.

MMEngine's ``LocalBackend.put`` opens the checkpoint file itself and writes into it: a save cut
off part-way (a full disk, a killed process) leaves a partial ``epoch_N.pth`` under the name of
a checkpoint, which ``--resume`` then trips over. :class:`AtomicLocalBackend` writes the bytes
into a hidden temporary file beside the target (``.epoch_N.pth.tmp-<pid>-<random>``, see
:mod:`svip_mm.utils.atomic_write`), flushes it to the disk (``fsync``) and only then renames
it into place (``os.replace``): a reader sees the old file, or none, or the whole new one. A
failed write removes its temporary file; one left by a killed process is never taken for a
checkpoint, as its name matches no ``epoch_{}.pth`` / ``iter_{}.pth`` pattern.

:class:`~svip_mm.engine.SVIPCheckpointHook` saves through it (``backend_args=dict(backend=
'svip_atomic_local')``) when its checkpoints go to a local folder: the numbered checkpoints,
``save_last`` and ``save_best``.
"""
import os
import os.path as osp
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.utils import mkdir_or_exist

from ..utils.atomic_write import write_atomic

ATOMIC_LOCAL = 'svip_atomic_local'  # the backend's name for backend_args


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, 'wb') as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())  # on the disk before the rename makes it a checkpoint


def _sync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (where the file system lets a folder be synced)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@register_backend(ATOMIC_LOCAL, force=True)
class AtomicLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` whose writes replace a file only once the new one
    is complete and on the disk (see the module doc)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        mkdir_or_exist(osp.dirname(osp.abspath(filepath)))
        write_atomic(filepath, lambda temp: _write_synced(temp, obj))
        _sync_dir(osp.dirname(osp.abspath(filepath)))

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)
