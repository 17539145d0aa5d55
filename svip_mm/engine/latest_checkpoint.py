"""Which checkpoint ``--resume`` continues from, and which files a run would overwrite."""
import os
import os.path as osp
import re
from typing import Dict, List

LAST_CHECKPOINT_FILE = 'last_checkpoint'  # written by MMEngine's CheckpointHook


def numbered_checkpoints(work_dir: str, filename_tmpl: str = 'epoch_{}.pth') -> Dict[int, str]:
    """The files of ``work_dir`` named by ``filename_tmpl`` (e.g. ``epoch_{}.pth``), by number."""
    if not osp.isdir(work_dir):
        return {}
    head, tail = filename_tmpl.split('{}')
    pattern = re.compile(re.escape(head) + r'(\d+)' + re.escape(tail) + '$')
    found = {}
    for name in sorted(os.listdir(work_dir)):
        match = pattern.match(name)
        if match:
            found[int(match.group(1))] = osp.join(work_dir, name)
    return found


def latest_checkpoint(work_dir: str, by_epoch: bool = True) -> str:
    """The checkpoint to resume from in ``work_dir``.

    The file named in ``last_checkpoint`` (also when the work dir was moved: then its base
    name in ``work_dir``); without that file, the highest ``epoch_N.pth`` (``iter_N.pth``
    when ``by_epoch`` is False).

    Raises:
        FileNotFoundError: nothing to resume from; the message says what was looked for.
    """
    pointer = osp.join(work_dir, LAST_CHECKPOINT_FILE)
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        for candidate in (named, osp.join(work_dir, osp.basename(named))):
            if candidate and osp.isfile(candidate):
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
