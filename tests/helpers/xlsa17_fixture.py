"""Write tiny ZSL datasets in the exact xlsa17 on-disk layout, for tests.

``write_xlsa17_fixture(tmp_path, layout='cub')`` writes, under ``tmp_path``::

    res101.mat        image_files (N x 1 cell of authors'-style absolute paths),
                      labels (N x 1 double, 1-based), features (2048 x N zeros)
    att_splits.mat    allclasses_names (C x 1 cell), att (K x C, columns L2-normalised),
                      original_att (K x C), trainval_loc / train_loc / val_loc /
                      test_seen_loc / test_unseen_loc (n x 1 uint16, 1-based rows of res101)
    <images>/...      one small real JPEG per row of res101
    <names file>      attribute names in the dataset's own format

Layouts: ``'cub'`` (``images/``, ``attributes/attributes.txt`` with ``1 has_x::value``
lines), ``'awa2'`` (``JPEGImages/``, ``predicates.txt`` with ``1<TAB>black`` lines, the 85
AwA2 predicates), ``'sun'`` (``images/<letter>/<class>/``, ``attributes.mat`` with the 102
SUN names). Rows are shuffled, so the ``*_loc`` vectors are scattered, unsorted indices.

The returned :class:`Xlsa17Fixture` holds the ground truth (0-based) and the constructor
arguments that make ``ZSLCUB`` / ``ZSLAWA2`` / ``ZSLSUN`` accept the tiny counts.
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import scipy.io
from PIL import Image

__all__ = ['Xlsa17Fixture', 'write_xlsa17_fixture', 'update_mat', 'LAYOUTS']

# layout -> (image folder = anchor, authors' root before it, names file, default K)
LAYOUTS = {
    'cub': ('images', '/BS/Deep_Fragments/work/MSc/CUB_200_2011/CUB_200_2011',
            'attributes/attributes.txt', 12),
    'awa2': ('JPEGImages', '/BS/xian/work/data/Animals_with_Attributes2/', 'predicates.txt', 85),
    'sun': ('images', '/BS/Deep_Fragments/work/MSc/data/SUN', 'attributes.mat', 102),
}


@dataclass
class Xlsa17Fixture:
    """Ground truth of a written fixture (all indices 0-based).

    Attributes:
        root: the dataset folder (``data_root``).
        layout: ``'cub'``, ``'awa2'`` or ``'sun'``.
        image_dir: the image folder name (also the path anchor).
        names_file: the attribute names file, relative to ``root``.
        class_names: C class names.
        attribute_names: K attribute names as written.
        labels: int64 [N] global class id per row of res101.
        image_files: N authors'-style absolute paths, as written.
        rel_paths: N paths relative to the image folder.
        locs: ``*_loc`` name -> int64 rows (the order written).
        att, original_att: float64 [K, C] as written.
        seen_classes, unseen_classes, train_classes, val_classes: sorted class ids.
    """
    root: str
    layout: str
    image_dir: str
    names_file: str
    class_names: List[str]
    attribute_names: List[str]
    labels: np.ndarray
    image_files: List[str]
    rel_paths: List[str]
    locs: Dict[str, np.ndarray]
    att: np.ndarray
    original_att: np.ndarray
    seen_classes: List[int]
    unseen_classes: List[int]
    train_classes: List[int]
    val_classes: List[int]
    extra: dict = field(default_factory=dict)

    @property
    def res101_file(self) -> str:
        return osp.join(self.root, 'res101.mat')

    @property
    def att_splits_file(self) -> str:
        return osp.join(self.root, 'att_splits.mat')

    def split_rows(self, split: str) -> np.ndarray:
        """Rows of a split in dataset order (``test`` = test_seen then test_unseen)."""
        if split == 'test':
            return np.concatenate([self.locs['test_seen_loc'], self.locs['test_unseen_loc']])
        return self.locs[f'{split}_loc']

    def local_path(self, row: int) -> str:
        """Where the image of a res101 row lies on disk."""
        return osp.join(self.root, self.image_dir, self.rel_paths[row])

    @property
    def expected_counts(self) -> dict:
        """Counts in the form of the datasets' ``expected_counts`` argument."""
        return dict(
            num_images=len(self.labels), num_classes=len(self.class_names),
            num_seen=len(self.seen_classes), num_unseen=len(self.unseen_classes),
            num_attributes=len(self.attribute_names),
            trainval=len(self.locs['trainval_loc']), test_seen=len(self.locs['test_seen_loc']),
            test_unseen=len(self.locs['test_unseen_loc']))

    def dataset_kwargs(self, **overrides) -> dict:
        """Constructor arguments of the layout's dataset class for this fixture."""
        kwargs = dict(data_root=self.root, expected_counts=self.expected_counts)
        kwargs.update(overrides)
        return kwargs


def _cell(strings: Sequence[str]) -> np.ndarray:
    """An n x 1 MATLAB cell array of strings for ``scipy.io.savemat``."""
    cell = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        cell[i, 0] = s
    return cell


def _column(values, dtype) -> np.ndarray:
    return np.asarray(values, dtype=dtype).reshape(-1, 1)


def update_mat(path: str, drop: Sequence[str] = (), **fields) -> None:
    """Rewrite a ``.mat`` file with some fields replaced, added or dropped (bad-input tests)."""
    data = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith('__')}
    for name in drop:
        data.pop(name)
    data.update(fields)
    scipy.io.savemat(path, data)


def _names(layout: str, k: int) -> List[str]:
    if layout == 'awa2':
        from svip_mm.datasets.attribute_groups import AWA2_PREDICATES
        return list(AWA2_PREDICATES)[:k] + [f'extra{i}' for i in range(k - 85)]
    if layout == 'sun':
        from svip_mm.datasets.attribute_groups import SUN_ATTRIBUTES
        # SUN's file writes some names with a space after '/' ("sailing/ boating").
        names = [n.replace('/', '/ ', 1) if i % 2 else n for i, n in enumerate(SUN_ATTRIBUTES)]
        return names[:k] + [f'extra {i}' for i in range(k - 102)]
    # CUB format: groups of 3 values, "has_<part>_<property>::<value>".
    parts = ['bill_shape', 'wing_color', 'upperparts_color', 'breast_pattern', 'back_color']
    groups = [parts[g % len(parts)] + (str(g // len(parts)) if g >= len(parts) else '')
              for g in range(k // 3 + 1)]
    return [f'has_{groups[i // 3]}::value{i % 3}' for i in range(k)]


def _write_names(root: str, layout: str, names_file: str, names: List[str]) -> None:
    path = osp.join(root, names_file)
    os.makedirs(osp.dirname(path) or root, exist_ok=True)
    if layout == 'sun':
        scipy.io.savemat(path, {'attributes': _cell(names)})
    else:
        sep = '\t' if layout == 'awa2' else ' '
        with open(path, 'w', encoding='utf-8') as f:
            f.writelines(f'{i + 1:>7}{sep}{n}\n' if layout == 'awa2' else f'{i + 1}{sep}{n}\n'
                         for i, n in enumerate(names))


def write_xlsa17_fixture(root: str,
                         layout: str = 'cub',
                         num_seen: int = 4,
                         num_unseen: int = 2,
                         images_per_class: int = 4,
                         num_attributes: Optional[int] = None,
                         image_size: Tuple[int, int] = (24, 20),
                         seed: int = 0) -> Xlsa17Fixture:
    """Write a tiny xlsa17-format dataset under ``root`` (see module docstring).

    Args:
        root: target folder (created).
        layout: ``'cub'``, ``'awa2'`` or ``'sun'``.
        num_seen, num_unseen: class counts; unseen classes are the last ``num_unseen`` ids.
        images_per_class: images per class (>= 2); per seen class the last image goes to
            test_seen, the others to trainval; every image of an unseen class to test_unseen.
        num_attributes: K (defaults: cub 12, awa2 85, sun 102).
        image_size: (width, height) of the JPEGs.
        seed: makes the row order, attributes and pixels deterministic.

    Returns:
        the :class:`Xlsa17Fixture` ground truth. train/val: the last ``max(1, num_seen // 4)``
        seen classes are val classes, the others train classes (trainval images only).
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {list(LAYOUTS)}, got {layout!r}')
    if images_per_class < 2 or num_seen < 2 or num_unseen < 1:
        raise ValueError('need images_per_class >= 2, num_seen >= 2, num_unseen >= 1')
    image_dir, authors_root, names_file, default_k = LAYOUTS[layout]
    k = default_k if num_attributes is None else num_attributes
    rng = np.random.default_rng(seed)
    num_classes = num_seen + num_unseen
    if layout == 'cub':
        class_names = [f'{c + 1:03d}.Bird_{c + 1}' for c in range(num_classes)]
        class_dirs = class_names
    elif layout == 'awa2':
        class_names = [f'animal+{c + 1}' for c in range(num_classes)]
        class_dirs = class_names
    else:
        class_names = [f'scene_{c + 1}' for c in range(num_classes)]
        class_dirs = [f's/{n}' for n in class_names]

    # One record per image, then a random row order for res101.
    records = []  # (class, index within class)
    for c in range(num_classes):
        records += [(c, j) for j in range(images_per_class)]
    order = rng.permutation(len(records))
    records = [records[i] for i in order]
    labels = np.array([c for c, _ in records], dtype=np.int64)
    rel_paths = [f'{class_dirs[c]}/{class_names[c].split(".")[-1]}_{j:04d}.jpg'
                 for c, j in records]
    image_files = [f'{authors_root}/{image_dir}/{p}' for p in rel_paths]

    seen = list(range(num_seen))
    unseen = list(range(num_seen, num_classes))
    num_val = max(1, num_seen // 4)
    val_classes, train_classes = seen[-num_val:], seen[:-num_val]
    rows = {name: [] for name in ('trainval', 'train', 'val', 'test_seen', 'test_unseen')}
    for row, (c, j) in enumerate(records):
        if c in unseen:
            rows['test_unseen'].append(row)
        elif j == images_per_class - 1:
            rows['test_seen'].append(row)
        else:
            rows['trainval'].append(row)
            rows['train' if c in train_classes else 'val'].append(row)
    # Shuffle within each split too: the dataset must keep the file's order, sorted or not.
    locs = {f'{s}_loc': rng.permutation(np.array(r, dtype=np.int64)) for s, r in rows.items()}

    original_att = rng.uniform(0, 100, size=(k, num_classes))
    att = original_att / np.linalg.norm(original_att, axis=0, keepdims=True)
    names = _names(layout, k)

    os.makedirs(root, exist_ok=True)
    scipy.io.savemat(osp.join(root, 'res101.mat'), {
        'image_files': _cell(image_files),
        'labels': _column(labels + 1, np.float64),
        'features': np.zeros((2048, len(records)), dtype=np.float32),
    })
    split_fields = {name: _column(loc + 1, np.uint16) for name, loc in locs.items()}
    scipy.io.savemat(osp.join(root, 'att_splits.mat'), {
        'allclasses_names': _cell(class_names),
        'att': att,
        'original_att': original_att,
        **split_fields,
    })
    _write_names(root, layout, names_file, names)

    colours = rng.integers(0, 256, size=(num_classes, 3))
    for row, rel in enumerate(rel_paths):
        path = osp.join(root, image_dir, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        w, h = image_size
        noise = rng.integers(-20, 21, size=(h, w, 3))
        pixels = np.clip(colours[labels[row]] + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path, quality=90)

    return Xlsa17Fixture(
        root=str(root), layout=layout, image_dir=image_dir, names_file=names_file,
        class_names=class_names, attribute_names=names, labels=labels,
        image_files=image_files, rel_paths=rel_paths, locs=locs, att=att,
        original_att=original_att, seen_classes=seen, unseen_classes=unseen,
        train_classes=train_classes, val_classes=val_classes)
