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
from typing import List, Optional, Sequence, Union

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .attribute_groups import resolve_attribute_groups
from .attribute_names import read_attribute_names
from .check import check_xlsa17
from .xlsa17_format import (_SHOW, SPLITS, Xlsa17Annotations, Xlsa17FormatError,
                            annotation_problems, load_xlsa17, map_image_path)

__all__ = ['ZSLXlsa17Dataset', 'ZSLCUB', 'ZSLAWA2', 'ZSLSUN']


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
