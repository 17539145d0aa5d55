"""Writing a dataset's files: the images and masks (rendered in parallel), the xlsa17 ``.mat``
files, the attribute and class tables and the marker file, either all into an empty folder or
only the listed ones into an existing dataset."""
import functools
import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Set

import numpy as np
from PIL import Image

from svip_mm.utils.atomic_write import write_atomic

from .class_split import _attribute_matrix, _attribute_names, _choose_classes, split_report
from .layout import ATTRIBUTES_FILE, CLASS_TABLE_FILE, META_FILE
from .parameters import _n_test_seen
from .rendering import render_sample
from .vocabulary import GROUPS


def _write(path: Path, write: Callable[[Path], Any], atomic: bool) -> None:
    """``write(path)``; with ``atomic``, into a hidden sibling that then replaces ``path``, so
    that a reader of a dataset in use never sees a half-written file. The sibling keeps the
    suffix: PIL and scipy choose the format by it."""
    if atomic:
        write_atomic(path, write, keep_suffix=True)
    else:
        write(path)


def _render_class(args) -> None:
    """Worker: render the listed images of one class; write the image and/or the mask."""
    root, p, cls, files, atomic = args
    for k, rel, parts in files:
        img, mask = render_sample(cls['attributes'], p, (cls['id'], k))
        if 'images' in parts:
            _write(root / 'images' / rel, Image.fromarray(img, 'RGB').save, atomic)
        if 'masks' in parts:
            _write(root / 'masks' / rel, Image.fromarray(mask.astype(np.uint8) * 255, 'L').save,
                   atomic)


def _savemat_deterministic(path: Path, data: Dict[str, Any], compress: bool) -> None:
    """``scipy.io.savemat`` with a fixed header text (scipy writes the creation time there)."""
    import scipy.io
    scipy.io.savemat(str(path), data, do_compression=compress, oned_as='column')
    text = b'MATLAB 5.0 MAT-file, Platform: svip_mm synthetic_zsl, Created on: (deterministic)'
    with open(path, 'r+b') as f:
        f.write(text.ljust(116, b' '))


def _cell(strings: Sequence[str]) -> np.ndarray:
    cell = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        cell[i, 0] = s
    return cell


def _loc(indices: Sequence[int], n_total: int) -> np.ndarray:
    dtype = np.uint16 if n_total < 2**16 else np.uint32
    return (np.asarray(sorted(indices), dtype=np.int64) + 1).astype(dtype).reshape(-1, 1)


def _write_dataset(root: Path, p: Dict[str, Any], workers: int,
                   only: Optional[Set[str]] = None) -> Dict[str, Any]:
    """Write the dataset of ``p`` into ``root``; return the meta dict.

    ``only=None``: write every file into the empty directory ``root``. Otherwise write just the
    listed files (relative POSIX paths, e.g. ``images/<cls>/img_00003.png``), each atomically,
    into an existing dataset: they come out byte-identical to a full run, since every file
    depends on the parameters only.
    """
    def wanted(rel: str) -> bool:
        return only is None or rel in only

    atomic = only is not None
    classes = _choose_classes(p)['classes']
    n_img, n_test = p['images_per_class'], _n_test_seen(p)
    split_rng = np.random.default_rng([p['seed'], 4])
    rows, jobs = [], []
    for cls in classes:
        held_out = set(split_rng.choice(n_img, size=n_test, replace=False).tolist())
        files = []
        for k in range(n_img):
            rel = f"{cls['name']}/img_{k + 1:05d}.png"
            parts = tuple(sub for sub in ('images', 'masks') if wanted(f'{sub}/{rel}'))
            if parts:
                files.append((k + 1, rel, parts))
            if cls['split'] == 'unseen':
                split = 'test_unseen'
            elif k in held_out:
                split = 'test_seen'
            else:
                split = cls['seen_subset']  # 'train' or 'val' (both in trainval)
            rows.append((rel, cls['id'], split))
        cls['n_images'] = n_img
        if files:
            for sub in ('images', 'masks'):
                (root / sub / cls['name']).mkdir(parents=True, exist_ok=atomic)
            jobs.append((root, p, cls, files, atomic))

    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            list(ex.map(_render_class, jobs))
    else:
        for job in jobs:
            _render_class(job)

    n = len(rows)
    if wanted('res101.mat'):
        image_files = [f"{p['authors_root']}/images/{rel}" for rel, _, _ in rows]
        labels = np.array([[cid] for _, cid, _ in rows], dtype=np.float64)
        _write(root / 'res101.mat', lambda f: _savemat_deterministic(f, dict(
            image_files=_cell(image_files), labels=labels,
            features=np.zeros((p['feature_dim'], n), dtype=np.float32)), compress=True), atomic)

    names = _attribute_names(p)
    original = _attribute_matrix(p, classes)
    att = original / np.linalg.norm(original, axis=0, keepdims=True)
    locs = {s: [i for i, (_, _, sp) in enumerate(rows) if sp in members] for s, members in dict(
        trainval_loc=('train', 'val'), train_loc=('train',), val_loc=('val',),
        test_seen_loc=('test_seen',), test_unseen_loc=('test_unseen',)).items()}
    if wanted('att_splits.mat'):
        _write(root / 'att_splits.mat', lambda f: _savemat_deterministic(f, dict(
            allclasses_names=_cell([c['name'] for c in classes]), att=att, original_att=original,
            **{k: _loc(v, n) for k, v in locs.items()}), compress=False), atomic)

    texts = {
        ATTRIBUTES_FILE: ''.join(f'{i} {name}\n' for i, name in enumerate(names, start=1)),
        'classes.txt': ''.join(f"{c['id']} {c['name']}\n" for c in classes),
    }
    report = split_report(original, names,
                          [c['id'] - 1 for c in classes if c['split'] == 'unseen'],
                          [c['id'] - 1 for c in classes if c['split'] == 'seen'])
    table = dict(
        groups={g: p[key] for g, key in GROUPS},
        attribute_names=names,
        classes=[{k: c[k] for k in ('id', 'name', 'split', 'seen_subset', 'attributes',
                                    'n_images')} for c in classes],
        unseen_pairs_differing_in_one_group={
            g: [[classes[a]['name'], classes[b]['name']] for a, b in pairs]
            for g, pairs in report['group_pairs'].items()},
    )
    texts[CLASS_TABLE_FILE] = json.dumps(table, indent=1) + '\n'
    counts = dict(images=n, classes=len(classes),
                  seen_classes=sum(c['split'] == 'seen' for c in classes),
                  unseen_classes=sum(c['split'] == 'unseen' for c in classes),
                  attributes=len(names),
                  **{k: len(v) for k, v in locs.items()})
    meta = dict(generator='svip_mm.datasets.synthetic_zsl', params=p, counts=counts,
                fingerprint=_fingerprint(p), attributes_file=ATTRIBUTES_FILE,
                image_anchor='images/', mask_dir='masks')
    # Written last: its presence marks the directory as complete.
    texts[META_FILE] = json.dumps(meta, indent=1) + '\n'
    for rel, text in texts.items():
        if wanted(rel):
            (root / rel).parent.mkdir(exist_ok=True)
            _write(root / rel, functools.partial(Path.write_text, data=text), atomic)
    return meta


def _fingerprint(p: Dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(p, sort_keys=True).encode()).hexdigest()[:16]
