"""Which checkpoint ``--resume`` continues from, which files a run would overwrite, and which
numbered checkpoints are damaged.

A numbered checkpoint is a file whose whole name fits the checkpoint hook's ``filename_tmpl``
(``epoch_{}.pth``, ``iter_{}.pth``); the hidden temporary files of an atomic save
(``.epoch_3.pth.tmp-<pid>-<random>``, :mod:`.atomic_backend`) never are. A damaged checkpoint
is one cut off while it was written (a full disk, a killed save, by a version of svip_mm or a
tool that wrote in place): :func:`checkpoint_damage` recognises it cheaply, without unpickling,
so that the tools can say what to do with it instead of tripping over it.
"""
import os
import os.path as osp
import re
import zipfile
from typing import Dict, List, Optional

from ..utils.safe_checkpoint import LEGACY_TORCH_MAGIC, ZIP_HEAD, CheckpointReadError

LAST_CHECKPOINT_FILE = 'last_checkpoint'  # written by MMEngine's CheckpointHook



class DamagedCheckpointError(CheckpointReadError):
    """A numbered checkpoint is not a whole torch file (cut off while it was written)."""


def checkpoint_number(name: str, filename_tmpl: str) -> Optional[int]:
    """N if the file name ``name`` is ``filename_tmpl`` with N for ``{}``, else None."""
    head, tail = filename_tmpl.split('{}')
    match = re.fullmatch(re.escape(head) + r'(\d+)' + re.escape(tail), name)
    return int(match.group(1)) if match else None


def numbered_checkpoints(work_dir: str, filename_tmpl: str = 'epoch_{}.pth') -> Dict[int, str]:
    """The files of ``work_dir`` named by ``filename_tmpl`` (e.g. ``epoch_{}.pth``), by number."""
    if not osp.isdir(work_dir):
        return {}
    found = {}
    for name in sorted(os.listdir(work_dir)):
        number = checkpoint_number(name, filename_tmpl)
        if number is not None:
            found[number] = osp.join(work_dir, name)
    return found


def checkpoint_damage(path: str) -> Optional[str]:
    """What is wrong with the checkpoint file ``path``, or None if it looks whole.

    Cheap (the zip directory only, no unpickling): an empty file, a zip archive whose
    directory at its end is missing (cut off while it was written), or bytes that no version
    of ``torch.save`` starts a file with. A folder (a DeepSpeed checkpoint) is not judged.
    """
    if osp.isdir(path):
        return None
    try:
        size = osp.getsize(path)
        with open(path, 'rb') as f:
            head = f.read(len(LEGACY_TORCH_MAGIC))
    except OSError as err:
        return f'it cannot be read: {err.strerror}'
    if size == 0:
        return 'it is empty'
    if head == LEGACY_TORCH_MAGIC:
        return None
    if not head.startswith(ZIP_HEAD):
        return f'it does not start as a file torch.save writes ({size} bytes, starting {head!r})'
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return f'its {size} bytes are the start of a zip archive whose end is missing'
    if not any(name == 'data.pkl' or name.endswith('/data.pkl') for name in names):
        return 'it is a zip archive without the data.pkl that torch.save writes'
    return None


def previous_readable(folder: str, filename_tmpl: str,
                      before: Optional[int] = None) -> Optional[str]:
    """The highest numbered checkpoint of ``folder`` (below ``before``, if given) that is not
    damaged."""
    for number, path in sorted(numbered_checkpoints(folder, filename_tmpl).items(),
                               reverse=True):
        if (before is None or number < before) and checkpoint_damage(path) is None:
            return path
    return None


def previous_checkpoint(path: str) -> Optional[str]:
    """The readable checkpoint before ``path`` in its folder (``epoch_4.pth`` for
    ``epoch_5.pth``; likewise ``iter_N.pth``), or None (none there, or not a numbered name)."""
    for tmpl in ('epoch_{}.pth', 'iter_{}.pth'):
        number = checkpoint_number(osp.basename(path), tmpl)
        if number is not None:
            return previous_readable(osp.dirname(path), tmpl, number)
    return None


def damaged_message(path: str, reason: str, resume_from: Optional[str]) -> str:
    """What to tell the user about the damaged checkpoint ``path``: what is wrong, to delete
    it or move it away, and the readable checkpoint to continue from (``resume_from``)."""
    then = (f'then continue from {osp.basename(resume_from)} with --resume {resume_from}'
            if resume_from else
            f'there is no readable checkpoint in {osp.dirname(path) or "."} to continue from')
    return (f'{osp.basename(path)} is damaged or partial ({path}: {reason}; a save cut off by '
            'a full disk or a killed run leaves such a file). Nothing can be resumed from it: '
            f'delete it or move it away; {then}.')


def check_not_damaged(path: str, filename_tmpl: str) -> None:
    """Refuse to resume from a damaged checkpoint, naming the readable one before it.

    Raises:
        DamagedCheckpointError: :func:`checkpoint_damage` finds ``path`` damaged.
    """
    reason = checkpoint_damage(path)
    if reason is None:
        return
    number = checkpoint_number(osp.basename(path), filename_tmpl)
    earlier = previous_readable(osp.dirname(path), filename_tmpl, number) \
        if number is not None else previous_checkpoint(path)
    raise DamagedCheckpointError(damaged_message(path, reason, earlier))


def latest_checkpoint(work_dir: str, by_epoch: bool = True) -> str:
    """The checkpoint to resume from in ``work_dir``.

    The file named in ``last_checkpoint`` (also when the work dir was moved: then its base
    name in ``work_dir``); without that file, or with an empty one (its write was cut off),
    the highest ``epoch_N.pth`` (``iter_N.pth`` when ``by_epoch`` is False). The file is not
    checked here: see :func:`check_not_damaged`.

    Raises:
        FileNotFoundError: nothing to resume from; the message says what was looked for.
    """
    pointer = osp.join(work_dir, LAST_CHECKPOINT_FILE)
    named = ''
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
    if named:
        for candidate in (named, osp.join(work_dir, osp.basename(named))):
            if osp.isfile(candidate):
                return candidate
        raise FileNotFoundError(
            f'{pointer} names {named!r}, which does not exist (nor does '
            f'{osp.basename(named)!r} in {work_dir!r}); pass the checkpoint to resume from '
            'explicitly: --resume PATH')
    tmpl = 'epoch_{}.pth' if by_epoch else 'iter_{}.pth'
    found = numbered_checkpoints(work_dir, tmpl)
    if not found:
        raise FileNotFoundError(
            f'nothing to resume from in {work_dir!r}: no {LAST_CHECKPOINT_FILE} file and no '
            f'{tmpl.format("N")}; train without --resume, or pass --resume PATH')
    return found[max(found)]


def checkpoints_after(work_dir: str, step: int, filename_tmpl: str) -> List[str]:
    """The numbered checkpoints of ``work_dir`` after epoch / iteration ``step``: the files a
    run starting at ``step`` would write over."""
    return [path for n, path in sorted(numbered_checkpoints(work_dir, filename_tmpl).items())
            if n > step]
