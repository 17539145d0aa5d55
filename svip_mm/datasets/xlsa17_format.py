"""The xlsa17 files: reading and validating ``res101.mat`` and ``att_splits.mat``
(:func:`load_xlsa17`), mapping the authors' image paths to local ones (:func:`map_image_path`),
and the counts and problems of well-formed annotations. No images and no dataset class. Used by
the dataset classes (``xlsa17.py``, which re-exports these names under their old import paths)
and by the check mode (``check.py``), so that those two do not import each other.
"""
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import scipy.io

from ..utils.finite import non_finite_message
from ..utils.unique_names import duplicate_names_message
from .attribute_names import mat_strings

__all__ = [
    'SPLITS', 'LOC_FIELDS', 'COUNT_KEYS', 'Xlsa17FormatError', 'Xlsa17Annotations',
    'load_xlsa17', 'map_image_path', 'annotation_counts', 'annotation_problems'
]

#: split name -> the ``att_splits.mat`` index vectors it is made of.
SPLITS: Dict[str, tuple] = {
    'trainval': ('trainval_loc', ),
    'train': ('train_loc', ),
    'val': ('val_loc', ),
    'test_seen': ('test_seen_loc', ),
    'test_unseen': ('test_unseen_loc', ),
    'test': ('test_seen_loc', 'test_unseen_loc'),
}
LOC_FIELDS = ('trainval_loc', 'train_loc', 'val_loc', 'test_seen_loc', 'test_unseen_loc')
#: keys understood in ``expected_counts`` (besides any split name of :data:`SPLITS`).
COUNT_KEYS = ('num_images', 'num_classes', 'num_seen', 'num_unseen', 'num_attributes')
# Where each count comes from, for error messages.
_COUNT_SOURCES = {
    'num_images': 'image_files in {res}',
    'num_classes': 'allclasses_names in {f}',
    'num_seen': 'classes of trainval_loc in {f}',
    'num_unseen': 'classes of test_unseen_loc in {f}',
    'num_attributes': 'attributes (rows of att) in {f}',
}
_SHOW = 5  # how many offending paths / ids an error message lists


class Xlsa17FormatError(ValueError):
    """The xlsa17 files (or the images they list) do not match what the format promises."""


@dataclass
class Xlsa17Annotations:
    """The content of ``res101.mat`` + ``att_splits.mat``, converted to 0-based indices.

    Attributes:
        res101_file, att_splits_file: where it was read from.
        image_files: N image paths as stored (authors' absolute paths).
        labels: int64 [N], 0-based global class id per image.
        class_names: C class names (``allclasses_names``).
        att: float64 [C, K], ``att`` transposed (one row per class).
        original_att: float64 [C, K], ``original_att`` transposed.
        locs: ``*_loc`` name -> int64 0-based row indices into ``image_files``.
    """
    res101_file: str
    att_splits_file: str
    image_files: List[str]
    labels: np.ndarray
    class_names: List[str]
    att: np.ndarray
    original_att: np.ndarray
    locs: Dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_attributes(self) -> int:
        return self.att.shape[1]

    def split_indices(self, split: str) -> np.ndarray:
        """0-based rows of ``image_files`` of a split (``test`` = test_seen then test_unseen)."""
        return np.concatenate([self.locs[name] for name in SPLITS[split]])

    def classes_of(self, loc: str) -> List[int]:
        """Sorted 0-based class ids of the images of one ``*_loc`` vector."""
        return sorted(int(c) for c in np.unique(self.labels[self.locs[loc]]))

    @property
    def seen_classes(self) -> List[int]:
        return self.classes_of('trainval_loc')

    @property
    def unseen_classes(self) -> List[int]:
        return self.classes_of('test_unseen_loc')


def _integers(value: np.ndarray, file: str, name: str) -> np.ndarray:
    """Flatten a numeric MATLAB vector to int64, refusing non-integral values."""
    arr = np.asarray(value).ravel()
    if arr.dtype.kind not in 'iuf' or (arr.dtype.kind == 'f' and
                                       not np.all(np.isfinite(arr) & (arr == np.round(arr)))):
        raise Xlsa17FormatError(f'{file}: field {name!r} must hold integers (1-based indices), '
                                f'got dtype {arr.dtype}')
    return arr.astype(np.int64)


def _loadmat(path: str, what: str, arg: str, fields: Sequence[str]) -> dict:
    """``scipy.io.loadmat`` restricted to ``fields``, with errors naming the file and field."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path} (set by {arg}); expected the file '
                                'from the xlsa17 package (xlsa17/data/<DATASET>/)')
    try:
        # variable_names skips the large ``features`` matrix of res101.mat.
        data = scipy.io.loadmat(path, variable_names=list(fields))
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5) files
        raise Xlsa17FormatError(f'{path}: cannot be read by scipy.io.loadmat ({e}); expected '
                                'the MATLAB v5 file of the xlsa17 package') from e
    except Exception as e:
        raise Xlsa17FormatError(f'{path}: not a readable MATLAB file ({e})') from e
    missing = [f for f in fields if f not in data]
    if missing:
        raise Xlsa17FormatError(f'{path}: missing field(s) {missing}; expected {list(fields)}')
    return data


def load_xlsa17(res101_file: str, att_splits_file: str) -> Xlsa17Annotations:
    """Read and structurally validate the two xlsa17 files.

    Args:
        res101_file: path of ``res101.mat`` (``image_files``, ``labels``; ``features`` unused).
        att_splits_file: path of ``att_splits.mat``.

    Returns:
        :class:`Xlsa17Annotations` with 0-based labels and indices.

    Raises:
        FileNotFoundError: a file is missing.
        Xlsa17FormatError: a field is missing, malformed, of the wrong size or out of range;
            a class name listed twice; a value of ``att`` / ``original_att`` that is NaN, inf
            or beyond float32's range (the model's dtype).
    """
    res = _loadmat(res101_file, 'res101.mat', 'ann_file', ('image_files', 'labels'))
    spl = _loadmat(att_splits_file, 'att_splits.mat', 'att_splits_file',
                   ('allclasses_names', 'att', 'original_att') + LOC_FIELDS)

    image_files = mat_strings(res['image_files'])
    labels = _integers(res['labels'], res101_file, 'labels')
    n = len(image_files)
    if labels.size != n:
        raise Xlsa17FormatError(f'{res101_file}: {labels.size} labels for {n} image_files; '
                                'expected one label per image')
    class_names = mat_strings(spl['allclasses_names'])
    # metainfo, results and figures name classes by name: one name twice is ambiguous
    duplicates = duplicate_names_message(class_names, f"{att_splits_file}: field "
                                         "'allclasses_names'")
    if duplicates:
        raise Xlsa17FormatError(duplicates)
    c = len(class_names)
    if n and (labels.min() < 1 or labels.max() > c):
        raise Xlsa17FormatError(f'{res101_file}: labels range over [{labels.min()}, '
                                f'{labels.max()}]; expected 1-based class ids in [1, {c}] '
                                f'({c} allclasses_names in {att_splits_file})')

    atts = {}
    for name in ('att', 'original_att'):
        a = np.asarray(spl[name], dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != c:
            raise Xlsa17FormatError(f'{att_splits_file}: {name!r} has shape {a.shape}; expected '
                                    f'K x {c} (attributes x classes, {c} allclasses_names)')
        # the model reads these in float32: a NaN, inf or |x| > 3.4e38 there makes every score
        # nan, so refuse it here, where the file and the class can still be named
        bad = non_finite_message(
            a, f'{att_splits_file}: field {name!r} (K x C: attributes x classes, 0-based)',
            axes=('attribute', ('class', class_names)))
        if bad:
            raise Xlsa17FormatError(bad)
        atts[name] = a.T
    if atts['att'].shape != atts['original_att'].shape:
        raise Xlsa17FormatError(f'{att_splits_file}: att is {atts["att"].T.shape} but '
                                f'original_att is {atts["original_att"].T.shape}; expected equal')

    locs = {}
    for name in LOC_FIELDS:
        loc = _integers(spl[name], att_splits_file, name)
        if loc.size == 0:
            raise Xlsa17FormatError(f'{att_splits_file}: {name!r} is empty')
        if loc.min() < 1 or loc.max() > n:
            raise Xlsa17FormatError(f'{att_splits_file}: {name!r} ranges over [{loc.min()}, '
                                    f'{loc.max()}]; expected 1-based rows of {res101_file} in '
                                    f'[1, {n}]')
        locs[name] = loc - 1
    return Xlsa17Annotations(res101_file, att_splits_file, image_files, labels - 1, class_names,
                             atts['att'], atts['original_att'], locs)


def map_image_path(path: str, anchor: Optional[str]) -> Optional[str]:
    """The part of an authors' image path after the last ``anchor`` component.

    ``map_image_path('/BS/x/CUB_200_2011//images/001.A/b.jpg', 'images/')`` ->
    ``'001.A/b.jpg'``. The anchor must match whole path components (``'images/'`` does not
    match ``'JPEGImages/'``). With ``anchor=None`` the stored path is used as it is, and must
    be relative. Returns ``None`` when the path cannot be mapped.
    """
    p = re.sub(r'/+', '/', path.replace('\\', '/'))
    if not anchor:
        return None if (p.startswith('/') or re.match(r'^[A-Za-z]:/', p)) else p
    a = '/' + anchor.strip('/') + '/'
    s = '/' + p
    pos = s.rfind(a)
    if pos < 0 or pos + len(a) >= len(s):
        return None
    return s[pos + len(a):]


def annotation_counts(ann: Xlsa17Annotations) -> Dict[str, int]:
    """Counts comparable with ``expected_counts``: classes, attributes, images per split."""
    counts = dict(
        num_images=len(ann.image_files),
        num_classes=len(ann.class_names),
        num_seen=len(ann.seen_classes),
        num_unseen=len(ann.unseen_classes),
        num_attributes=ann.num_attributes)
    counts.update({split: int(ann.split_indices(split).size) for split in SPLITS})
    return counts


def annotation_problems(ann: Xlsa17Annotations,
                        attribute_names: Optional[Sequence[str]] = None,
                        names_file: Optional[str] = None,
                        expected_counts: Optional[dict] = None,
                        dataset: str = 'dataset') -> List[str]:
    """Everything wrong with well-formed xlsa17 annotations, one message per problem.

    Checks: attribute names vs the rows of ``att``; ``expected_counts`` (any of
    :data:`COUNT_KEYS` and split names); seen and unseen classes disjoint; test-seen classes
    all seen; train and val classes disjoint; no image both in trainval and a test split.
    """
    problems = []
    f = ann.att_splits_file
    k = ann.num_attributes
    if attribute_names is not None and len(attribute_names) != k:
        problems.append(f'attribute names: {names_file or "attribute_names"} has '
                        f'{len(attribute_names)} names but att in {f} has {k} attributes '
                        '(rows); expected one name per attribute')
    counts = annotation_counts(ann)
    for key, want in (expected_counts or {}).items():
        if key not in counts:
            raise ValueError(f'unknown key {key!r} in expected_counts; expected some of '
                             f'{list(COUNT_KEYS) + list(SPLITS)}')
        if counts[key] != want:
            src = _COUNT_SOURCES.get(key, 'images in split {key!r} ({locs} of {f})').format(
                key=key, locs='+'.join(SPLITS.get(key, ())), f=f, res=ann.res101_file)
            problems.append(f'{key}: found {counts[key]} {src}; expected {want} '
                            f'(expected_counts of {dataset})')

    seen, unseen = set(ann.seen_classes), set(ann.unseen_classes)
    both = sorted(seen & unseen)
    if both:
        shown = [f'{i} ({ann.class_names[i]})' for i in both[:_SHOW]]
        problems.append(f'{len(both)} class ids are both seen (trainval_loc) and unseen '
                        f'(test_unseen_loc) in {f}: {shown}; expected disjoint class sets')
    extra = sorted(set(ann.classes_of('test_seen_loc')) - seen)
    if extra:
        problems.append(f'{len(extra)} classes of test_seen_loc are not in trainval_loc in {f} '
                        f'(first: {extra[:_SHOW]}); expected test-seen classes to be seen')
    tv = sorted(set(ann.classes_of('train_loc')) & set(ann.classes_of('val_loc')))
    if tv:
        problems.append(f'{len(tv)} classes are in both train_loc and val_loc in {f} '
                        f'(first: {tv[:_SHOW]}); expected disjoint train/val classes')
    trainval = set(ann.locs['trainval_loc'].tolist())
    for loc in ('test_seen_loc', 'test_unseen_loc'):
        shared = sorted(trainval & set(ann.locs[loc].tolist()))
        if shared:
            problems.append(f'{len(shared)} images are in both trainval_loc and {loc} in {f} '
                            f'(first rows, 1-based: {[i + 1 for i in shared[:_SHOW]]}); '
                            'expected disjoint image sets')
    return problems
