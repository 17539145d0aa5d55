"""Swapping a freshly written dataset folder into place: an existing folder is replaced only if it
is empty or a synthetic dataset holding nothing but the generator's files, and of the old folder
only the generator's files are deleted."""
import logging
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any, Dict, Optional

from .layout import (META_FILE, _foreign_entries, _missing_files, _remove_own, _some,
                     load_synthetic_meta)

# 'svip_mm.datasets.synthetic_zsl', the name the generator logs under since it was one module
_log = logging.getLogger(__package__)


def _check_replaceable(out_dir: Path) -> Optional[Dict[str, Any]]:
    """Raise :class:`FileExistsError` unless ``out_dir`` is absent, an empty folder or a
    synthetic dataset holding nothing but the generator's files; return its meta (or None)."""
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        raise FileExistsError(f'{out_dir} exists and is not a directory; expected a '
                              'directory for the synthetic dataset')
    meta = load_synthetic_meta(out_dir)
    if meta is None:
        if any(out_dir.iterdir()):
            raise FileExistsError(
                f'{out_dir} is not empty and holds no {META_FILE}: it does not look like a '
                'synthetic dataset written by svip_mm, so it is not overwritten; choose an '
                'empty or new directory')
        return None
    foreign = _foreign_entries(out_dir, meta)
    if foreign:
        raise FileExistsError(
            f'{out_dir} holds {len(foreign)} file(s)/folder(s) that the synthetic generator did '
            f'not write: {_some(foreign)}. Nothing was changed: replacing the dataset would '
            'leave them next to different data (e.g. word vectors of the old attribute names), '
            'and they are never deleted. Move or delete them (or choose another directory), '
            'then regenerate')
    return meta


def _sibling(out_dir: Path, tag: str) -> Path:
    """A fresh hidden name next to ``out_dir`` (not created)."""
    return out_dir.with_name(f'.{out_dir.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}')


def _replace_dir(tmp: Path, out_dir: Path, params: Dict[str, Any], keep_identical: bool) -> None:
    """Move the freshly written ``tmp`` to ``out_dir``, replacing an older synthetic dataset.

    With ``keep_identical``, a complete dataset with the same parameters already at ``out_dir``
    (e.g. written meanwhile by another process) is kept and ``tmp`` discarded. An existing
    ``out_dir`` is replaced only if :func:`_check_replaceable` allows it: then the new folder
    takes the old one's permissions and, of the old folder, only the generator's files are
    deleted.
    """
    if out_dir.exists():
        meta = load_synthetic_meta(out_dir) if out_dir.is_dir() else None
        if (keep_identical and meta is not None and meta.get('params') == params
                and not _missing_files(out_dir, params)):
            # The same dataset (e.g. written meanwhile by another process): keep it, so that
            # nobody reading it sees it disappear. The files are identical anyway.
            shutil.rmtree(tmp, ignore_errors=True)
            return
        meta = _check_replaceable(out_dir)
        os.chmod(tmp, stat.S_IMODE(out_dir.stat().st_mode))
        # Two renames rather than delete-then-rename: out_dir is missing only between them.
        old = _sibling(out_dir, 'old')
        os.rename(out_dir, old)
        try:
            os.rename(tmp, out_dir)
        except OSError:
            os.rename(old, out_dir)
            raise
        left = _remove_own(old, meta)
        if left:
            _log.warning('%s: kept %d entries that appeared in the old dataset folder while it '
                         'was replaced, under %s: %s', out_dir, len(left), old, _some(left))
        return
    try:
        os.rename(tmp, out_dir)
    except OSError:
        # Another process finished first: accept its result only if it is the same dataset.
        meta = load_synthetic_meta(out_dir)
        if (meta is not None and meta.get('params') == params
                and not _missing_files(out_dir, params)):
            shutil.rmtree(tmp, ignore_errors=True)
            return
        raise
