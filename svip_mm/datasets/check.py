"""Check mode: validate a user's xlsa17-format download and list everything that is missing.

Unlike constructing the dataset (which stops at the first kind of error), the check visits
every file, every split and every listed image and reports all problems at once, next to a
table of found vs expected counts (docs/method.md, section 9.1). Used by
``tools/check_dataset.py`` and ``ZSLXlsa17Dataset.check``.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .attribute_names import read_attribute_names
from .xlsa17_format import (SPLITS, Xlsa17FormatError, annotation_counts,
                            annotation_problems, load_xlsa17, map_image_path)

__all__ = ['CheckReport', 'check_xlsa17']


@dataclass
class CheckReport:
    """Result of :func:`check_xlsa17`.

    Attributes:
        dataset: dataset (class) name.
        data_root: the checked folder.
        files: role -> (path, exists) for the two ``.mat`` files, the names file and the
            image folder.
        found: counts read from the files (keys as in ``expected_counts``; empty if the
            ``.mat`` files could not be read).
        expected: the counts the download should match (may be empty).
        missing_images: every listed image absent on disk (all splits).
        problems: one message per problem; empty means the download is complete.
    """
    dataset: str
    data_root: str
    files: Dict[str, tuple] = field(default_factory=dict)
    found: Dict[str, int] = field(default_factory=dict)
    expected: Dict[str, int] = field(default_factory=dict)
    missing_images: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self, max_paths: int = 10) -> str:
        """Human-readable report: files, a found/expected table, problems, missing images."""
        lines = [f'{self.dataset} at {self.data_root or "."}', 'files:']
        for role, (path, exists) in self.files.items():
            lines.append(f'  [{"ok" if exists else "MISSING"}] {role}: {path}')
        keys = list(dict.fromkeys(list(self.expected) + list(self.found)))
        if keys:
            lines.append(f'  {"count":<16}{"found":>10}{"expected":>10}')
            for k in keys:
                got, want = self.found.get(k, '-'), self.expected.get(k, '-')
                flag = '' if want == '-' or got == want else '  <-- differs'
                lines.append(f'  {k:<16}{got!s:>10}{want!s:>10}{flag}')
        if self.missing_images:
            lines.append(f'missing images: {len(self.missing_images)}')
            lines += [f'  {p}' for p in self.missing_images[:max_paths]]
            if len(self.missing_images) > max_paths:
                lines.append(f'  ... and {len(self.missing_images) - max_paths} more')
        lines.append('OK: no problems found.' if self.ok else
                     f'{len(self.problems)} problem(s):')
        lines += [f'- {p}' for p in self.problems]
        return '\n'.join(lines)


def _rooted(data_root: str, path: str) -> str:
    return path if osp.isabs(path) or not data_root else osp.join(data_root, path)


def check_xlsa17(data_root: str,
                 ann_file: str = 'res101.mat',
                 att_splits_file: str = 'att_splits.mat',
                 data_prefix: str = 'images',
                 path_anchor: Optional[str] = 'images/',
                 attribute_names_file: Optional[str] = 'attributes.txt',
                 expected_counts: Optional[dict] = None,
                 dataset: str = 'xlsa17 dataset') -> CheckReport:
    """Validate an xlsa17-format dataset folder; never raises for problems in the data.

    Arguments as in :class:`~svip_mm.datasets.xlsa17.ZSLXlsa17Dataset` (paths relative to
    ``data_root`` unless absolute).

    Returns:
        a :class:`CheckReport`.
    """
    report = CheckReport(dataset, data_root, expected=dict(expected_counts or {}))
    res_path = _rooted(data_root, ann_file)
    spl_path = _rooted(data_root, att_splits_file)
    img_root = _rooted(data_root, data_prefix)
    names_path = None if attribute_names_file is None else _rooted(data_root,
                                                                  attribute_names_file)
    report.files = {
        'ann_file (res101.mat)': (res_path, osp.isfile(res_path)),
        'att_splits_file': (spl_path, osp.isfile(spl_path)),
        'data_prefix (image folder)': (img_root, osp.isdir(img_root)),
    }
    if names_path is not None:
        report.files['attribute_names_file'] = (names_path, osp.isfile(names_path))
    for role, (path, exists) in report.files.items():
        if not exists:
            report.problems.append(f'missing {role}: {path}')

    names = None
    if names_path is not None and osp.isfile(names_path):
        try:
            names = read_attribute_names(names_path)
        except ValueError as e:
            report.problems.append(str(e))
    if not (osp.isfile(res_path) and osp.isfile(spl_path)):
        return report
    try:
        ann = load_xlsa17(res_path, spl_path)
    except Xlsa17FormatError as e:
        report.problems.append(str(e))
        return report
    report.found = annotation_counts(ann)
    report.problems += annotation_problems(ann, names, names_path, expected_counts, dataset)

    if osp.isdir(img_root):
        rel = [map_image_path(path, path_anchor) for path in ann.image_files]
        unmapped = sum(r is None for r in rel)
        absent = np.array([r is not None and not osp.isfile(osp.join(img_root, r)) for r in rel],
                          dtype=bool)
        report.missing_images = [osp.join(img_root, rel[i]) for i in np.flatnonzero(absent)]
        if unmapped:
            report.problems.append(f'{unmapped} image_files in {res_path} do not contain the '
                                   f'path_anchor {path_anchor!r}; expected authors\' paths '
                                   f'like .../{(path_anchor or "").strip("/")}/<class>/<file>')
        if report.missing_images:
            per_split = {split: int(absent[ann.split_indices(split)].sum())
                         for split in SPLITS if split != 'test'}
            report.problems.append(
                f'{len(report.missing_images)} of {len(ann.image_files)} listed images are '
                f'absent under {img_root} (per split: {per_split}); first: '
                f'{report.missing_images[:5]}')
    return report
