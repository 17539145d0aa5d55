"""The dataset's files on disk: their names, the marker file (:func:`load_synthetic_meta`), and
which files in an existing folder are the generator's own, which of them are missing and what
else is there (the generator never deletes or overwrites anything it did not write)."""
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from .class_split import _choose_classes
from .parameters import FORMAT_VERSION

#: The parameter/marker file, written last; its presence marks a directory as a synthetic
#: dataset written by the generator.
META_FILE = 'synthetic_zsl.json'
CLASS_TABLE_FILE = 'class_attributes.json'
ATTRIBUTES_FILE = 'attributes/attributes.txt'
#: The generator's files outside ``images/`` and ``masks/`` (:data:`META_FILE` is written last).
_TOP_FILES = ('res101.mat', 'att_splits.mat', ATTRIBUTES_FILE, 'classes.txt', CLASS_TABLE_FILE,
              META_FILE)
#: The generator's image/mask files and folders, by name (for datasets of another format
#: version, whose exact file list the current code cannot compute).
_OWN_FILE_RE = re.compile(r'(images|masks)/[^/]+/img_\d{5}\.png')
_OWN_DIR_RE = re.compile(r'(images|masks)(/[^/]+)?|attributes')


def load_synthetic_meta(out_dir) -> Optional[Dict[str, Any]]:
    """The parsed :data:`META_FILE` of ``out_dir``, or None if it has none (or it is unreadable)."""
    path = Path(out_dir) / META_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get('generator') else None


def _expected_files(p: Dict[str, Any], class_names: Optional[List[str]] = None) -> List[str]:
    """Every file the generator writes for ``p`` (relative POSIX paths). ``class_names``: the
    class folders if already known (e.g. from :data:`CLASS_TABLE_FILE`), else computed."""
    if class_names is None:
        class_names = [c['name'] for c in _choose_classes(p)['classes']]
    rels = [f'{name}/img_{k:05d}.png' for name in class_names
            for k in range(1, p['images_per_class'] + 1)]
    return list(_TOP_FILES) + [f'{sub}/{rel}' for sub in ('images', 'masks') for rel in rels]


def _absent(out_dir: Path, files: List[str]) -> List[str]:
    """The ``files`` (relative paths) that are not files under ``out_dir``; one listing per
    folder rather than one ``stat`` per file."""
    listed: Dict[str, Set[str]] = {}
    absent = []
    for rel in files:
        folder, _, name = rel.rpartition('/')
        if folder not in listed:
            try:
                listed[folder] = {e.name for e in os.scandir(out_dir / folder) if e.is_file()}
            except OSError:
                listed[folder] = set()
        if name not in listed[folder]:
            absent.append(rel)
    return absent


def _missing_files(out_dir: Path, p: Dict[str, Any]) -> List[str]:
    """The generator's files for ``p`` that are absent from ``out_dir`` ([] when complete).

    The class folders are taken from the dataset's own class table when it is readable (no
    class search for a complete dataset); anything found missing is confirmed against the
    list computed from the parameters.
    """
    try:
        names = [c['name'] for c in json.loads((out_dir / CLASS_TABLE_FILE).read_text())[
            'classes']]
        names = names if all(isinstance(n, str) and n and '/' not in n for n in names) else None
    except (OSError, ValueError, KeyError, TypeError):
        names = None
    if names is not None and not _absent(out_dir, _expected_files(p, names)):
        return []
    return _absent(out_dir, _expected_files(p))


def _ownership(meta: Optional[Dict[str, Any]]) -> Tuple[Callable[[str], bool],
                                                        Callable[[str], bool]]:
    """Predicates (is it the generator's file?, is it the generator's folder?) on relative
    paths of the dataset recorded by ``meta``: its exact file list for the current format
    version, the generator's naming pattern for others."""
    params = meta.get('params') if isinstance(meta, dict) else None
    if isinstance(params, dict) and params.get('format_version') == FORMAT_VERSION:
        try:
            files = set(_expected_files(params))
        except (KeyError, TypeError, ValueError, RuntimeError):
            files = None
        if files is not None:
            dirs = {rel.rsplit('/', i)[0] for rel in files for i in (1, 2) if rel.count('/') >= i}
            return files.__contains__, dirs.__contains__
    return ((lambda rel: rel in _TOP_FILES or _OWN_FILE_RE.fullmatch(rel) is not None),
            (lambda rel: _OWN_DIR_RE.fullmatch(rel) is not None))


def _foreign_entries(out_dir: Path, meta: Optional[Dict[str, Any]]) -> List[str]:
    """What under ``out_dir`` the generator did not write: files, links, and folders (listed
    as ``'name/'``, not entered) outside the dataset recorded by ``meta``."""
    is_own_file, is_own_dir = _ownership(meta)
    foreign = []
    for folder, dirs, files in os.walk(out_dir):
        base = Path(folder).relative_to(out_dir).as_posix()
        prefix = '' if base == '.' else base + '/'
        keep = []
        for d in dirs:
            if is_own_dir(prefix + d) and not os.path.islink(os.path.join(folder, d)):
                keep.append(d)
            else:
                foreign.append(prefix + d + '/')
        dirs[:] = keep
        foreign += [prefix + f for f in files
                    if not is_own_file(prefix + f) or os.path.islink(os.path.join(folder, f))]
    return sorted(foreign)


def _remove_own(root: Path, meta: Optional[Dict[str, Any]]) -> List[str]:
    """Delete the generator's files and (then empty) folders under ``root``, then ``root`` if
    empty; anything else stays. Returns what stayed (relative paths)."""
    is_own_file, is_own_dir = _ownership(meta)
    for folder, dirs, files in os.walk(root, topdown=False):
        base = Path(folder).relative_to(root).as_posix()
        prefix = '' if base == '.' else base + '/'
        for f in files:
            path = os.path.join(folder, f)
            if is_own_file(prefix + f) and not os.path.islink(path):
                os.unlink(path)
        for d in dirs:
            path = os.path.join(folder, d)
            if is_own_dir(prefix + d) and not os.path.islink(path):
                try:
                    os.rmdir(path)
                except OSError:
                    pass  # holds something that is not the generator's
    try:
        root.rmdir()
    except OSError:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob('*'))
    return []


def _some(paths: Sequence[str], n: int = 8) -> str:
    """The first ``n`` paths for a message, with the count of the rest."""
    shown = ', '.join(paths[:n])
    return shown + (f' and {len(paths) - n} more' if len(paths) > n else '')
