"""ZSL datasets in the xlsa17 format (Xian et al., "proposed splits") over raw images.

A dataset folder (``data_root``) holds, by default::

    data_root/
      res101.mat          # image_files (N x 1 cell, authors' absolute paths), labels (N x 1)
      att_splits.mat      # allclasses_names, att / original_att (K x C), *_loc (1-based)
      <images folder>/    # the raw images: CUB/SUN ``images/``, AwA2 ``JPEGImages/``
      <attribute names>   # CUB attributes/attributes.txt, AwA2 predicates.txt, SUN attributes.mat

Every location is a constructor argument, relative to ``data_root`` unless absolute. An
authors' path such as ``/BS/.../CUB_200_2011/images/001.Black_footed_Albatross/x.jpg`` is
mapped onto the local image folder by the part after the last ``path_anchor`` component
(``images/`` -> ``<data_root>/images/001.Black_footed_Albatross/x.jpg``).

Conventions: the xlsa17 index vectors and labels are 1-based; everything produced here is
0-based. ``gt_label`` is the *global* class index (row of ``class_attributes``); seen classes
are those of ``trainval_loc``, unseen classes those of ``test_unseen_loc``.
"""
import inspect
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import scipy.io
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .attribute_groups import resolve_attribute_groups
from .attribute_names import mat_strings, read_attribute_names

__all__ = [
    'SPLITS', 'Xlsa17FormatError', 'Xlsa17Annotations', 'load_xlsa17', 'map_image_path',
    'annotation_counts', 'annotation_problems', 'ZSLXlsa17Dataset', 'ZSLCUB', 'ZSLAWA2',
    'ZSLSUN'
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
        Xlsa17FormatError: a field is missing, malformed, of the wrong size or out of range.
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


def _missing_message(what: str, paths: Sequence[str], expected: str) -> str:
    shown = '\n  '.join(paths[:_SHOW])
    more = f'\n  ... and {len(paths) - _SHOW} more' if len(paths) > _SHOW else ''
    return f'{len(paths)} {what}; {expected}:\n  {shown}{more}'


@DATASETS.register_module()
class ZSLXlsa17Dataset(BaseDataset):
    """Any ZSL dataset in the xlsa17 format, read from raw images (see module docstring).

    Args:
        data_root: the dataset folder; the other paths are relative to it unless absolute.
        split: ``'trainval'``, ``'train'``, ``'val'``, ``'test_seen'``, ``'test_unseen'`` or
            ``'test'`` (test_seen followed by test_unseen).
        ann_file: ``res101.mat``.
        att_splits_file: ``att_splits.mat``.
        data_prefix: the image folder.
        path_anchor: the path component after which the authors' paths are kept
            (``'images/'``); ``None`` when ``image_files`` already holds relative paths.
        attribute_names_file: ``.txt`` or ``.mat`` names file (see
            :func:`~svip_mm.datasets.read_attribute_names`); ``None`` names
            the attributes ``attribute_0`` ... .
        attribute_groups: grouping rule or explicit groups, see
            :func:`~svip_mm.datasets.resolve_attribute_groups`.
        expected_counts: dict of counts the download must match (keys ``num_images``,
            ``num_classes``, ``num_seen``, ``num_unseen``, ``num_attributes`` and split names);
            ``'default'`` uses the class's :attr:`EXPECTED_COUNTS`; ``None`` checks none.
        check_images: check at construction that every image of the split exists (set False
            only for slow file systems; a missing image then fails when loaded).
        pipeline, test_mode, lazy_init: as in mmpretrain's ``BaseDataset``.
        **kwargs: the other arguments of mmpretrain's ``BaseDataset``.

    Each data info holds ``img_path``, ``gt_label`` (int, 0-based global class id) and
    ``is_unseen`` (bool). ``metainfo`` holds ``classes`` (C names), ``seen_classes`` /
    ``unseen_classes`` (sorted 0-based ids), ``train_classes`` / ``val_classes`` (classes of
    train_loc / val_loc), ``class_attributes`` (float32 [C, K], rows L2-normalised),
    ``class_attributes_original`` (float32 [C, K]), ``attribute_names`` (K strings),
    ``attribute_groups`` (``[[name, [indices]], ...]``), ``attribute_group_ids`` (int64 [K])
    and ``split``.

    Raises (at construction): ``ValueError`` for an unknown split; ``FileNotFoundError``
    for a missing ``.mat`` file, names file or image folder; :class:`Xlsa17FormatError` for
    malformed files, wrong counts or attribute dimensions, overlapping seen/unseen classes,
    unmappable or absent images.
    """

    #: counts a download must match when ``expected_counts='default'`` (None: no check).
    EXPECTED_COUNTS: Optional[dict] = None

    def __init__(self,
                 data_root: str = '',
                 split: str = 'trainval',
                 ann_file: str = 'res101.mat',
                 att_splits_file: str = 'att_splits.mat',
                 data_prefix: str = 'images',
                 path_anchor: Optional[str] = 'images/',
                 attribute_names_file: Optional[str] = 'attributes.txt',
                 attribute_groups: Union[str, list, dict] = 'auto',
                 expected_counts: Union[str, dict, None] = 'default',
                 check_images: bool = True,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 **kwargs):
        if split not in SPLITS:
            raise ValueError(f'{type(self).__name__}: unknown split {split!r}; expected one of '
                             f'{list(SPLITS)}')
        self.split = split
        self.path_anchor = path_anchor
        self.check_images = check_images
        self.expected_counts = (self.EXPECTED_COUNTS if expected_counts == 'default' else
                                expected_counts)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=True,
            **kwargs)
        self.att_splits_file = self._rooted(att_splits_file)
        self.attribute_names_file = (None if attribute_names_file is None else
                                     self._rooted(attribute_names_file))
        self.annotations = self._load_annotations(attribute_groups)
        if not lazy_init:
            self.full_init()

    def _rooted(self, path: str) -> str:
        """``path`` under ``data_root`` unless absolute (as mmengine does for ``ann_file``)."""
        return path if osp.isabs(path) or not self.data_root else osp.join(self.data_root, path)

    def _load_annotations(self, attribute_groups) -> Xlsa17Annotations:
        """Read the .mat and names files, validate them, fill ``metainfo``."""
        ann = load_xlsa17(self.ann_file, self.att_splits_file)
        k = ann.num_attributes
        if self.attribute_names_file is None:
            names = [f'attribute_{i}' for i in range(k)]
        else:
            names = read_attribute_names(self.attribute_names_file)
        problems = annotation_problems(ann, names, self.attribute_names_file,
                                       self.expected_counts, type(self).__name__)
        if problems:
            hint = ('\n(expected_counts=None skips the count checks, e.g. for another version '
                    'of the data)' if self.expected_counts else '')
            raise Xlsa17FormatError(f'{type(self).__name__} at {self.data_root or "."}:\n- ' +
                                    '\n- '.join(problems) + hint)
        groups, group_ids = resolve_attribute_groups(attribute_groups, names)

        att = ann.att / np.maximum(np.linalg.norm(ann.att, axis=1, keepdims=True), 1e-12)
        self._metainfo.update(
            classes=tuple(ann.class_names),
            seen_classes=ann.seen_classes,
            unseen_classes=ann.unseen_classes,
            train_classes=ann.classes_of('train_loc'),
            val_classes=ann.classes_of('val_loc'),
            class_attributes=att.astype(np.float32),
            class_attributes_original=ann.original_att.astype(np.float32),
            attribute_names=list(names),
            attribute_groups=groups,
            attribute_group_ids=group_ids,
            split=self.split)
        return ann

    def load_data_list(self) -> List[dict]:
        """Data infos of the split: ``img_path``, ``gt_label``, ``is_unseen``.

        Raises:
            FileNotFoundError: the image folder does not exist.
            Xlsa17FormatError: paths without the anchor, or listed images absent on disk.
        """
        ann = self.annotations
        img_root = self.img_prefix
        if not osp.isdir(img_root):
            raise FileNotFoundError(
                f'image folder not found: {img_root} (data_prefix under data_root); expected '
                f'the raw images of {type(self).__name__}, e.g. <data_root>/'
                f'{(self.path_anchor or "images/").strip("/")}/<class>/<image>.jpg')
        rows = ann.split_indices(self.split)
        rel = [map_image_path(ann.image_files[i], self.path_anchor) for i in rows]
        bad = [ann.image_files[i] for i, r in zip(rows, rel) if r is None]
        if bad:
            raise Xlsa17FormatError(_missing_message(
                f'image_files in {ann.res101_file} cannot be mapped', bad,
                f'expected paths containing the component {self.path_anchor!r} (path_anchor)'))
        paths = [osp.join(img_root, r) for r in rel]
        if self.check_images:
            absent = [p for p in paths if not osp.isfile(p)]
            if absent:
                raise Xlsa17FormatError(_missing_message(
                    f'images of split {self.split!r} listed in {ann.res101_file} are absent',
                    absent, f'expected them under {img_root} (data_prefix)'))
        unseen = set(self._metainfo['unseen_classes'])
        return [
            dict(img_path=p, gt_label=int(ann.labels[i]), is_unseen=int(ann.labels[i]) in unseen)
            for p, i in zip(paths, rows)
        ]

    def extra_repr(self) -> List[str]:
        meta = self._metainfo
        return super().extra_repr() + [
            f'Split: \t{self.split}',
            f'Seen / unseen classes: \t{len(meta["seen_classes"])} / '
            f'{len(meta["unseen_classes"])}',
            f'Attributes: \t{len(meta["attribute_names"])} in '
            f'{len(meta["attribute_groups"])} groups',
        ]

    @classmethod
    def dataset_args(cls, **kwargs) -> dict:
        """The constructor arguments this class would use: its defaults updated by ``kwargs``."""
        args = {}
        for klass in reversed(cls.__mro__):
            if klass is object or '__init__' not in vars(klass):
                continue
            if not issubclass(klass, ZSLXlsa17Dataset):
                continue
            for name, p in inspect.signature(klass.__init__).parameters.items():
                if p.default is not inspect.Parameter.empty:
                    args[name] = p.default
        args.update(kwargs)
        if args.get('expected_counts') == 'default':
            args['expected_counts'] = cls.EXPECTED_COUNTS
        return args

    @classmethod
    def check(cls, **kwargs):
        """Check mode: validate a download without raising (see
        :func:`~svip_mm.datasets.check_xlsa17`).

        Args:
            **kwargs: constructor arguments (``data_root`` etc.); defaults are the class's.

        Returns:
            a :class:`~svip_mm.datasets.CheckReport` listing what is found, what is
            expected and every problem (missing files, wrong counts, absent images).
        """
        from .check import check_xlsa17
        args = cls.dataset_args(**kwargs)
        return check_xlsa17(
            data_root=args['data_root'],
            ann_file=args['ann_file'],
            att_splits_file=args['att_splits_file'],
            data_prefix=args['data_prefix'],
            path_anchor=args['path_anchor'],
            attribute_names_file=args['attribute_names_file'],
            expected_counts=args['expected_counts'],
            dataset=cls.__name__)


@DATASETS.register_module()
class ZSLCUB(ZSLXlsa17Dataset):
    """CUB-200-2011 in the xlsa17 proposed split: 150 seen / 50 unseen birds, K = 312.

    Default layout under ``data_root``: ``res101.mat`` and ``att_splits.mat`` (from
    ``xlsa17/data/CUB/``), ``images/`` (from ``CUB_200_2011/images``) and
    ``attributes/attributes.txt``. Attribute groups: the 28 ``has_x::`` name prefixes (the
    same groups as the released SVIP code's).
    Other arguments: see :class:`ZSLXlsa17Dataset`.
    """
    EXPECTED_COUNTS = dict(num_images=11788, num_classes=200, num_seen=150, num_unseen=50,
                           num_attributes=312, trainval=7057, test_seen=1764, test_unseen=2967)

    def __init__(self,
                 data_root: str = 'data/CUB',
                 split: str = 'trainval',
                 data_prefix: str = 'images',
                 path_anchor: Optional[str] = 'images/',
                 attribute_names_file: Optional[str] = 'attributes/attributes.txt',
                 attribute_groups: Union[str, list, dict] = 'prefix',
                 **kwargs):
        super().__init__(data_root=data_root, split=split, data_prefix=data_prefix,
                         path_anchor=path_anchor, attribute_names_file=attribute_names_file,
                         attribute_groups=attribute_groups, **kwargs)


@DATASETS.register_module()
class ZSLAWA2(ZSLXlsa17Dataset):
    """Animals with Attributes 2 in the xlsa17 proposed split: 40 seen / 10 unseen, K = 85.

    Default layout under ``data_root``: ``res101.mat``, ``att_splits.mat`` (from
    ``xlsa17/data/AWA2/``), ``JPEGImages/`` and ``predicates.txt`` (from AwA2-data.zip).
    Attribute groups: the 9-group semantic table ``AWA2_GROUPS`` of :mod:`svip_mm.datasets`;
    ``attribute_groups='awa2_released'`` (set in ``configs/_base_/datasets/zsl_awa2.py``)
    gives the released SVIP code's grouping.
    """
    EXPECTED_COUNTS = dict(num_images=37322, num_classes=50, num_seen=40, num_unseen=10,
                           num_attributes=85, trainval=23527, test_seen=5882, test_unseen=7913)

    def __init__(self,
                 data_root: str = 'data/AWA2',
                 split: str = 'trainval',
                 data_prefix: str = 'JPEGImages',
                 path_anchor: Optional[str] = 'JPEGImages/',
                 attribute_names_file: Optional[str] = 'predicates.txt',
                 attribute_groups: Union[str, list, dict] = 'awa2',
                 **kwargs):
        super().__init__(data_root=data_root, split=split, data_prefix=data_prefix,
                         path_anchor=path_anchor, attribute_names_file=attribute_names_file,
                         attribute_groups=attribute_groups, **kwargs)


@DATASETS.register_module()
class ZSLSUN(ZSLXlsa17Dataset):
    """SUN attribute database in the xlsa17 proposed split: 645 seen / 72 unseen, K = 102.

    Default layout under ``data_root``: ``res101.mat``, ``att_splits.mat`` (from
    ``xlsa17/data/SUN/``), ``images/`` (SUNAttributeDB images) and ``attributes.mat``.
    Attribute groups: the 4 SUN attribute types ``SUN_GROUPS`` of :mod:`svip_mm.datasets`;
    ``attribute_groups='sun_released'`` (set in ``configs/_base_/datasets/zsl_sun.py``) gives
    the released SVIP code's grouping.
    """
    EXPECTED_COUNTS = dict(num_images=14340, num_classes=717, num_seen=645, num_unseen=72,
                           num_attributes=102, trainval=10320, test_seen=2580, test_unseen=1440)

    def __init__(self,
                 data_root: str = 'data/SUN',
                 split: str = 'trainval',
                 data_prefix: str = 'images',
                 path_anchor: Optional[str] = 'images/',
                 attribute_names_file: Optional[str] = 'attributes.mat',
                 attribute_groups: Union[str, list, dict] = 'sun',
                 **kwargs):
        super().__init__(data_root=data_root, split=split, data_prefix=data_prefix,
                         path_anchor=path_anchor, attribute_names_file=attribute_names_file,
                         attribute_groups=attribute_groups, **kwargs)
