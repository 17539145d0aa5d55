"""A synthetic zero-shot-learning dataset written in the xlsa17 on-disk format.

Every image shows one object whose appearance is fully described by four attribute groups:

* ``shape`` of the body (default ``circle``, ``triangle``, ``star``),
* ``body_color`` (default ``red``, ``green``, ``blue``),
* ``pattern`` on the body (default ``plain``, ``stripes``, ``dots``),
* ``head_color``: the colour of a small round "head" on top of the body (same vocabulary as the
  body colours).

The ``large`` preset adds ``square``, ``yellow`` and ``checkered``; ``cross``, ``crescent``,
``orange`` and ``purple`` are available through overrides. A class is one combination of the four
values (default 3 x 3 x 3 x 3 = 81 combinations, 40 of them used). Seen and unseen classes are
disjoint combinations, every attribute value occurs in some seen class (and in some ``train_loc``
class), and the unseen classes are chosen so that telling them apart needs every group: for each
group there are unseen pairs that differ in that group only (see :func:`split_report`). The seen
classes are chosen so that no group can be predicted from the others in the seen set (see
:class:`_SeenSetStats`); with a random choice a network reads, e.g., the shape off the colours
that happen to go with it and fails on the unseen combinations.

Per image the object varies in position, scale, rotation, colour (hue/saturation/value jitter) and
pattern phase. With ``clutter=True`` the background carries semantic-unrelated distractors whose
colours and forms come from the attribute vocabulary: small shapes (some with a head-like disc),
lone head-like discs and textured patches (stripes, dots, checks). They are drawn independently of
the class, behind the object. ``clutter=False`` writes the clean-background version of the *same*
classes, split and objects: the object, its mask, the background tone and the pixel noise are
drawn from random streams that do not depend on ``clutter``, so the two variants differ only in the
background clutter.

Layout written under ``out_dir`` (the xlsa17 files plus CUB-style names)::

    images/<cls>/img_00001.png        RGB images, <cls> = '001.red_stripes_circle_blue_head'
    masks/<cls>/img_00001.png         ground-truth foreground masks (L, 0 or 255), same paths
    res101.mat                        image_files (N x 1 cell of authors'-style absolute paths,
                                      '<authors_root>/images/<cls>/<file>'), labels (N x 1,
                                      1-based, double), features (feature_dim x N float32 zeros:
                                      a placeholder with the real layout)
    att_splits.mat                    allclasses_names (C x 1 cell), att (K x C, L2-normalised per
                                      class), original_att (K x C, binary), trainval_loc,
                                      test_seen_loc, test_unseen_loc, train_loc, val_loc (1-based
                                      row indices into res101, n x 1)
    attributes/attributes.txt         CUB format: '1 has_shape::circle' (group before '::')
    classes.txt                       CUB format: '1 001.red_stripes_circle_blue_head'
    class_attributes.json             per-class table for humans (values, seen/unseen, train/val)
    synthetic_zsl.json                generation parameters, format version, counts; written last

Split semantics (as in xlsa17): ``trainval_loc`` = ``train_loc`` + ``val_loc`` are the seen
classes' training images; ``train_loc`` and ``val_loc`` cover disjoint sets of seen classes;
``test_seen_loc`` holds the other ~``test_seen_fraction`` of every seen class's images;
``test_unseen_loc`` holds all images of the unseen classes.

Learnability (measured with a probe, not a test: a tiny ViT, patch 8 at 64 px, d=128, depth 4,
one softmax head per group on the CLS token, 20 epochs on the trainval images, 1 CPU thread,
default preset, seed 0). Per-group accuracy on test_unseen images (chance 33%)::

                    shape  body_color  pattern  head_color
    clean            51       100        67        99
    clutter          29        96        87        74

On seen classes (test_seen) all groups reach 96-100% clean and 86-97% with clutter. Shape is the
weak group on unseen combinations: the same network trained on 1,500 images whose four values are
drawn independently (then with 4 shapes including square and smaller bodies) recognises the shape
of 84-86% of new images, so shapes are visible at 64 px; what fails is generalising from 30 seen
combinations (it matches an unseen image to the nearest seen class). Single runs: expect +-10
points between seeds. The choices above (3 well-separated shapes, bodies 30-37 px wide, dark
outlines, a seen set without cross-group correlations) raised unseen shape accuracy from below
chance (5-19% with 4 shapes, smaller bodies and a random seen set) to ~50%; a model that learns
shape compositionally (conv stem, longer training, attribute-level supervision) should do better.

Everything is deterministic given the parameters: the same seed gives byte-identical images,
masks and ``.mat`` files (the MAT header's free-text creation date is replaced by a fixed text).
"""
import colorsys
import functools
import hashlib
import itertools
import json
import logging
import math
import os
import re
import secrets
import shutil
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
from PIL import Image, ImageChops, ImageDraw

__all__ = [
    'PRESETS', 'FORMAT_VERSION', 'META_FILE', 'generate_synthetic_zsl', 'ensure_synthetic_zsl',
    'resolve_params', 'load_synthetic_meta', 'split_report', 'render_sample', 'group_names',
]

#: Bumped whenever the rendering or the file layout changes, so that a dataset written by
#: another version is recognised (:func:`ensure_synthetic_zsl` refuses it unless asked to
#: regenerate).
FORMAT_VERSION = 2
#: The parameter/marker file, written last; its presence marks a directory as a synthetic
#: dataset written by the generator.
META_FILE = 'synthetic_zsl.json'
CLASS_TABLE_FILE = 'class_attributes.json'
ATTRIBUTES_FILE = 'attributes/attributes.txt'

#: The attribute groups, in the order of the attribute vector, with the parameter naming each
#: group's value list.
GROUPS: Tuple[Tuple[str, str], ...] = (
    ('shape', 'shapes'),
    ('body_color', 'body_colors'),
    ('pattern', 'patterns'),
    ('head_color', 'head_colors'),
)

#: Base colours as HSV (all components in [0, 1]); per-image jitter is added around them.
PALETTE_HSV: Dict[str, Tuple[float, float, float]] = {
    'red': (0.000, 0.82, 0.88),
    'orange': (0.075, 0.88, 0.97),
    'yellow': (0.150, 0.85, 0.93),
    'green': (0.330, 0.75, 0.68),
    'blue': (0.610, 0.80, 0.88),
    'purple': (0.780, 0.62, 0.72),
}
KNOWN_SHAPES = ('circle', 'square', 'triangle', 'star', 'cross', 'crescent')
KNOWN_PATTERNS = ('plain', 'stripes', 'dots', 'checkered')
_KNOWN_VALUES = {
    'shapes': KNOWN_SHAPES,
    'body_colors': tuple(PALETTE_HSV),
    'patterns': KNOWN_PATTERNS,
    'head_colors': tuple(PALETTE_HSV),
}

_DEFAULT = dict(
    shapes=['circle', 'triangle', 'star'],
    body_colors=['red', 'green', 'blue'],
    patterns=['plain', 'stripes', 'dots'],
    head_colors=['red', 'green', 'blue'],
    n_seen=30,                  # seen classes (train + val)
    n_unseen=10,
    n_val=10,                   # seen classes used as val_loc (pseudo-unseen for tuning)
    images_per_class=64,
    test_seen_fraction=0.2,     # share of each seen class's images held out as test_seen
    min_seen_per_value=2,       # every attribute value occurs in at least this many seen classes
    object_scale=[0.23, 0.29],  # body radius as a fraction of the image side
    head_scale=0.42,            # head radius as a fraction of the body radius
    outline_px=1.0,             # dark outline of bodies (object and distractors), output pixels
    rotation_deg=15.0,          # object rotation uniform in [-rotation_deg, rotation_deg]
    hue_jitter=0.02,
    sat_jitter=0.12,            # multiplicative, uniform in [1 - x, 1 + x]
    val_jitter=0.12,
    noise_std=3.0,              # Gaussian pixel noise (0-255 scale), same in both variants
    clutter_shapes=[3, 6],      # number of distractor shapes / discs, inclusive range
    clutter_textures=[1, 2],    # number of textured background patches, inclusive range
    clutter_scale=[0.3, 0.6],   # distractor radius as a fraction of the object's body radius
    supersample=4,              # drawn at supersample x image_size, then box-downsampled
    feature_dim=2048,           # rows of the placeholder res101 'features' matrix
    authors_root='/BS/synthetic',
)

#: Named parameter sets. ``default``: 12 attributes (3 shapes, 3 body colours, 3 patterns, 3
#: head colours), 40 classes (30 seen / 10 unseen), 2,560 images. ``large``: 16 attributes (adds
#: square, which is easily confused with circle at 64 px, yellow and checkered), 100 classes
#: (80 seen / 20 unseen), 10,000 images and denser clutter, for harder experiments. ``source``:
#: a pretraining set for the default preset's ViT (ImageNet before CUB, in small): shapes
#: square / cross / crescent, body and head colours yellow / orange / purple, patterns plain /
#: stripes / checkered (the generator has four patterns, so plain and stripes are shared with
#: ``default``; no shape or colour is), 60 classes (50 seen / 10 unseen), 3,840 images, clutter
#: as in ``default``; no class of ``default`` occurs in it.
PRESETS: Dict[str, Dict[str, Any]] = {
    'default': _DEFAULT,
    'large': dict(
        _DEFAULT,
        shapes=['circle', 'square', 'triangle', 'star'],
        body_colors=['red', 'green', 'blue', 'yellow'],
        patterns=['plain', 'stripes', 'dots', 'checkered'],
        head_colors=['red', 'green', 'blue', 'yellow'],
        n_seen=80, n_unseen=20, n_val=27, images_per_class=100,
        min_seen_per_value=3,
        clutter_shapes=[5, 9], clutter_textures=[2, 3],
    ),
    'source': dict(
        _DEFAULT,
        shapes=['square', 'cross', 'crescent'],
        body_colors=['yellow', 'orange', 'purple'],
        patterns=['plain', 'stripes', 'checkered'],
        head_colors=['yellow', 'orange', 'purple'],
        n_seen=50, n_unseen=10, n_val=17,
    ),
}

# Shape geometry in the object frame: unit body radius, "up" is -y (towards the head).
_SHAPE_TOP = {'circle': 1.0, 'square': 0.84, 'triangle': 1.12, 'star': 1.18, 'cross': 1.0,
              'crescent': 1.0}
_STRIPE_PERIOD = 0.48   # object units (body radius = 1)
_DOT_SPACING = 0.5
_DOT_RADIUS = 0.13
_CHECK_CELL = 0.42


def group_names() -> List[str]:
    """The attribute group names in attribute-vector order (``shape``, ``body_color``, ...)."""
    return [g for g, _ in GROUPS]


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------
def _as_range(name: str, value: Any, lo: float, hi: float, integer: bool) -> List:
    """Validate an inclusive ``[min, max]`` pair; return it as a JSON-friendly list."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f'{name}={value!r}: expected a pair [min, max]')
    a, b = value
    kind = int if integer else float
    if integer and not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                           for v in (a, b)):
        raise ValueError(f'{name}={value!r}: expected two integers')
    if not integer and not all(isinstance(v, (int, float, np.integer, np.floating))
                               for v in (a, b)):
        raise ValueError(f'{name}={value!r}: expected two numbers')
    if not (lo <= a <= b <= hi):
        raise ValueError(f'{name}={value!r}: expected {lo} <= min <= max <= {hi}')
    return [kind(a), kind(b)]


def _check_number(name: str, value: Any, lo: float, hi: float, integer: bool = False):
    ok_types = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        raise ValueError(f'{name}={value!r}: expected {"an integer" if integer else "a number"} '
                         f'in [{lo}, {hi}]')
    if not (lo <= value <= hi):
        raise ValueError(f'{name}={value!r}: expected a value in [{lo}, {hi}]')
    return int(value) if integer else float(value)


def resolve_params(preset: str = 'default', seed: int = 0, image_size: int = 64,
                   clutter: bool = True, **overrides) -> Dict[str, Any]:
    """Expand a preset plus overrides into the full, validated parameter dict.

    The result is JSON-serialisable and is what :data:`META_FILE` records; two calls with the same
    result produce identical datasets.

    Raises:
        ValueError: an unknown preset, unknown override name, or a value out of range (the
            message names the parameter, the value and what was expected).
    """
    if preset not in PRESETS:
        raise ValueError(f'preset={preset!r}: expected one of {sorted(PRESETS)}')
    unknown = sorted(set(overrides) - set(PRESETS[preset]))
    if unknown:
        raise ValueError(f'unknown synthetic-dataset parameter(s) {unknown}; expected any of '
                         f'{sorted(PRESETS[preset])} (or preset, seed, image_size, clutter)')
    # A deep copy with tuples as lists and numpy scalars as Python numbers.
    p = json.loads(json.dumps(dict(PRESETS[preset], **overrides),
                              default=lambda o: o.item() if isinstance(o, np.generic) else
                              o.tolist() if isinstance(o, np.ndarray) else repr(o)))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed={seed!r}: expected a non-negative integer')
    if not isinstance(clutter, (bool, np.bool_)):
        raise ValueError(f'clutter={clutter!r}: expected True or False')
    p.update(preset=preset, seed=int(seed), clutter=bool(clutter),
             image_size=_check_number('image_size', image_size, 16, 1024, integer=True))

    for _, key in GROUPS:
        vals = p[key]
        if (not isinstance(vals, list) or len(vals) < 2
                or not all(isinstance(v, str) for v in vals)):
            raise ValueError(f'{key}={vals!r}: expected a list of at least 2 names from '
                             f'{list(_KNOWN_VALUES[key])}')
        bad = [v for v in vals if v not in _KNOWN_VALUES[key]]
        if bad or len(set(vals)) != len(vals):
            raise ValueError(f'{key}={vals!r}: expected distinct names from '
                             f'{list(_KNOWN_VALUES[key])}' + (f'; unknown: {bad}' if bad else ''))
    n_groups = len(GROUPS)
    p['n_seen'] = _check_number('n_seen', p['n_seen'], 2, 100000, integer=True)
    p['n_unseen'] = _check_number('n_unseen', p['n_unseen'], 1, 100000, integer=True)
    if p['n_unseen'] < n_groups + 1:
        raise ValueError(f"n_unseen={p['n_unseen']}: expected at least {n_groups + 1} (number of "
                         'attribute groups + 1), so that telling the unseen classes apart needs '
                         'every group')
    p['n_val'] = _check_number('n_val', p['n_val'], 1, p['n_seen'] - 1, integer=True)
    n_combos = math.prod(len(p[key]) for _, key in GROUPS)
    if p['n_seen'] + p['n_unseen'] > n_combos:
        raise ValueError(f"n_seen + n_unseen = {p['n_seen'] + p['n_unseen']} classes requested, "
                         f'but the attribute vocabulary only has {n_combos} combinations')
    p['images_per_class'] = _check_number('images_per_class', p['images_per_class'], 2, 100000,
                                          integer=True)
    p['test_seen_fraction'] = _check_number('test_seen_fraction', p['test_seen_fraction'],
                                            0.0, 0.9)
    n_test = _n_test_seen(p)
    if not 1 <= n_test < p['images_per_class']:
        raise ValueError(f"test_seen_fraction={p['test_seen_fraction']} with images_per_class="
                         f"{p['images_per_class']} holds out {n_test} images per seen class; "
                         f'expected at least 1 and fewer than images_per_class')
    p['min_seen_per_value'] = _check_number('min_seen_per_value', p['min_seen_per_value'], 1,
                                            p['n_seen'], integer=True)
    p['object_scale'] = _as_range('object_scale', p['object_scale'], 0.05, 0.3, integer=False)
    p['head_scale'] = _check_number('head_scale', p['head_scale'], 0.2, 0.7)
    p['outline_px'] = _check_number('outline_px', p['outline_px'], 0.0, 4.0)
    p['rotation_deg'] = _check_number('rotation_deg', p['rotation_deg'], 0.0, 180.0)
    for key in ('hue_jitter', 'sat_jitter', 'val_jitter'):
        p[key] = _check_number(key, p[key], 0.0, 0.5)
    p['noise_std'] = _check_number('noise_std', p['noise_std'], 0.0, 50.0)
    p['clutter_shapes'] = _as_range('clutter_shapes', p['clutter_shapes'], 0, 100, integer=True)
    p['clutter_textures'] = _as_range('clutter_textures', p['clutter_textures'], 0, 100,
                                      integer=True)
    p['clutter_scale'] = _as_range('clutter_scale', p['clutter_scale'], 0.05, 1.5, integer=False)
    p['supersample'] = _check_number('supersample', p['supersample'], 1, 8, integer=True)
    p['feature_dim'] = _check_number('feature_dim', p['feature_dim'], 1, 100000, integer=True)
    if not isinstance(p['authors_root'], str) or not p['authors_root'].startswith('/'):
        raise ValueError(f"authors_root={p['authors_root']!r}: expected an absolute POSIX path")
    p['authors_root'] = p['authors_root'].rstrip('/') or '/'
    p['format_version'] = FORMAT_VERSION
    return dict(sorted(p.items()))


def _n_test_seen(p: Dict[str, Any]) -> int:
    return int(round(p['test_seen_fraction'] * p['images_per_class']))


# --------------------------------------------------------------------------------------------
# Classes and split
# --------------------------------------------------------------------------------------------
def _draw_unseen(rng: np.random.Generator, combos: List[Tuple[int, ...]], sizes: List[int],
                 n_unseen: int) -> Optional[List[Tuple[int, ...]]]:
    """One random unseen set made of "stars" (see :func:`_choose_classes`), or None on a clash."""
    n_groups = len(sizes)
    unseen: List[Tuple[int, ...]] = []
    for _star in range(n_unseen // (n_groups + 1)):
        base = combos[rng.integers(len(combos))]
        members = [base]
        for g in range(n_groups):
            alt = list(base)
            alt[g] = int((base[g] + 1 + rng.integers(sizes[g] - 1)) % sizes[g])
            members.append(tuple(alt))
        if len(set(members) | set(unseen)) != len(members) + len(unseen):
            return None
        unseen.extend(members)
    taken = set(unseen)
    rest = [c for c in combos if c not in taken]
    extra = n_unseen - len(unseen)
    unseen.extend(rest[i] for i in rng.choice(len(rest), size=extra, replace=False))
    return unseen


def _unseen_score(unseen: List[Tuple[int, ...]], sizes: List[int]) -> Tuple[int, float]:
    """(attribute values used by unseen classes, minus the imbalance of their counts)."""
    covered, imbalance = 0, 0.0
    for g, size in enumerate(sizes):
        counts = np.bincount([c[g] for c in unseen], minlength=size)
        covered += int((counts > 0).sum())
        imbalance += float(((counts - len(unseen) / size) ** 2).sum())
    return covered, -imbalance


class _SeenSetStats:
    """Counts over a seen set that measure how far one attribute group can be predicted from
    the others (a shortcut a network takes instead of learning the group, and which then fails
    on the unseen combinations), updated incrementally when classes are swapped.

    :meth:`cost` (lower is better) adds:

    * *lookup*, per group g: the number of distinct combinations of the *other* groups divided
      by the number of classes, i.e. the accuracy of predicting g from all other groups with a
      lookup table. 1 when every class's context is unique (g is never needed to tell the seen
      classes apart), 0.5 when every class has a "minimal pair" differing only in g.
    * 3 x *dependence*: the mutual information (nats) between the values of every two groups,
      summed over the pairs: 0 when no value of one group says anything about another.
    * *imbalance*: the L1 distance of each group's value frequencies from uniform, summed.

    The two first terms pull in opposite directions (minimal pairs make groups dependent); the
    weights were chosen with a probe (a tiny ViT, one attribute head per group, trained on the
    seen classes) by the per-group attribute accuracy on the unseen classes.
    """

    def __init__(self, seen: Sequence[Tuple[int, ...]], sizes: List[int]):
        self.sizes, self.n = list(sizes), len(seen)
        ng = len(sizes)
        self.pairs = [(g, h) for g in range(ng) for h in range(g + 1, ng)]
        self.context: List[Dict[Tuple[int, ...], int]] = [{} for _ in sizes]
        self.values = [[0] * s for s in sizes]
        self.joint = {(g, h): [[0] * sizes[h] for _ in range(sizes[g])] for g, h in self.pairs}
        # sum of k*ln(k) over the counts k of each group's values / each pair's joint values,
        # kept up to date so that the mutual information costs O(1) per swap
        self._xlogx_values = [0.0] * ng
        self._xlogx_joint = {pair: 0.0 for pair in self.pairs}
        for c in seen:
            self.update(c, 1)

    @staticmethod
    def _dx(k: int, sign: int) -> float:
        """Change of k*ln(k) when k changes by sign."""
        new = k + sign
        return (new * math.log(new) if new > 0 else 0.0) - (k * math.log(k) if k > 0 else 0.0)

    def update(self, c: Tuple[int, ...], sign: int) -> None:
        """Add (``sign=1``) or remove (``-1``) class ``c``."""
        for g in range(len(self.sizes)):
            key = c[:g] + c[g + 1:]
            k = self.context[g].get(key, 0) + sign
            if k:
                self.context[g][key] = k
            else:
                del self.context[g][key]
            self._xlogx_values[g] += self._dx(self.values[g][c[g]], sign)
            self.values[g][c[g]] += sign
        for g, h in self.pairs:
            row = self.joint[g, h][c[g]]
            self._xlogx_joint[g, h] += self._dx(row[c[h]], sign)
            row[c[h]] += sign

    def covered(self, at_least: int) -> bool:
        return all(min(v) >= at_least for v in self.values)

    def lookup(self) -> List[float]:
        return [len(ctx) / self.n for ctx in self.context]

    def dependence(self) -> float:
        """Sum over group pairs of the mutual information of their values (nats)."""
        n = self.n
        return sum((self._xlogx_joint[g, h] - self._xlogx_values[g] - self._xlogx_values[h]) / n
                   + math.log(n) for g, h in self.pairs)

    def imbalance(self) -> float:
        return sum(abs(k / self.n - 1 / len(v)) for v in self.values for k in v)

    def cost(self) -> float:
        return sum(self.lookup()) + 3.0 * self.dependence() + self.imbalance()


def _values_covered(classes: Sequence[Tuple[int, ...]], sizes: List[int], at_least: int) -> bool:
    return all(sum(c[g] == v for c in classes) >= at_least
               for g in range(len(sizes)) for v in range(sizes[g]))


_SPLIT_KEYS = ('seed', 'shapes', 'body_colors', 'patterns', 'head_colors', 'n_seen', 'n_unseen',
               'n_val', 'min_seen_per_value', 'format_version')


def _choose_classes(p: Dict[str, Any]) -> Dict[str, Any]:
    """The classes and split of :func:`_choose_classes_uncached`, memoised per parameters that
    determine them (the search takes about a second; a copy is returned)."""
    key = json.dumps({k: p[k] for k in _SPLIT_KEYS}, sort_keys=True)
    if key not in _SPLIT_CACHE:
        _SPLIT_CACHE[key] = json.dumps(_choose_classes_uncached(p))
    return json.loads(_SPLIT_CACHE[key])


_SPLIT_CACHE: Dict[str, str] = {}


def _choose_classes_uncached(p: Dict[str, Any]) -> Dict[str, Any]:
    """Pick seen/unseen attribute combinations and the train/val split of the seen classes.

    Unseen classes are built as "stars": a base combination plus, for each group, a copy of it
    with only that group changed, so every group separates some unseen pairs (classes beyond a
    multiple of ``groups + 1`` are random). Of many random draws the one whose unseen classes use
    the most attribute values, most evenly, is kept, so the unseen classes span the vocabulary.

    Seen classes start random among the remaining combinations (every value in at least
    ``min_seen_per_value`` of them) and are then improved by seeded simulated annealing on
    :meth:`_SeenSetStats.cost`. In a random seen set each group is 70-90% predictable from the
    other groups (most classes are the only one with their context) and values of different
    groups are correlated, so a network predicts, say, the shape from the colours that go with
    it in the seen classes instead of looking at the shape, and fails on unseen combinations.
    The optimised set has exactly balanced value frequencies, nearly independent groups and more
    "minimal pairs" (seen classes differing in one group only). Finally ``n_val`` seen classes
    become ``val`` such that every value still occurs in a ``train`` class.
    """
    sizes = [len(p[key]) for _, key in GROUPS]
    combos = list(itertools.product(*[range(s) for s in sizes]))
    rng = np.random.default_rng([p['seed'], 0])
    unseen, best = None, None
    for _ in range(400):
        cand = _draw_unseen(rng, combos, sizes, p['n_unseen'])
        if cand is not None and (best is None or _unseen_score(cand, sizes) > best):
            unseen, best = cand, _unseen_score(cand, sizes)
    if unseen is None:
        raise RuntimeError(f"could not place n_unseen={p['n_unseen']} unseen classes in the "
                           f'{len(combos)} attribute combinations; use fewer unseen classes')
    taken = set(unseen)
    rest = [c for c in combos if c not in taken]
    need = p['min_seen_per_value']
    failure = RuntimeError(
        f'could not find a split with every attribute value in >= {need} seen classes and in '
        f"a train class (n_seen={p['n_seen']}, n_val={p['n_val']}); use more seen classes, a "
        'smaller min_seen_per_value or fewer attribute values')
    for _ in range(5000):
        seen = [rest[i] for i in rng.choice(len(rest), size=p['n_seen'], replace=False)]
        if _values_covered(seen, sizes, need):
            break
    else:
        raise failure
    # Simulated annealing over single-class swaps (seeded, hence deterministic).
    stats = _SeenSetStats(seen, sizes)
    members = set(seen)
    cost = stats.cost()
    steps = 400 * p['n_seen']
    for step in range(steps):
        i, cand = int(rng.integers(len(seen))), rest[rng.integers(len(rest))]
        accept_draw = rng.random()
        if cand in members:
            continue
        old = seen[i]
        stats.update(old, -1)
        stats.update(cand, 1)
        new_cost = stats.cost() if stats.covered(need) else math.inf
        temperature = 0.05 * (1 - step / steps) + 1e-9
        if new_cost <= cost or accept_draw < math.exp((cost - new_cost) / temperature):
            seen[i], cost = cand, new_cost
            members.discard(old)
            members.add(cand)
        else:
            stats.update(cand, -1)
            stats.update(old, 1)
    for _ in range(5000):
        val_idx = set(rng.choice(p['n_seen'], size=p['n_val'], replace=False).tolist())
        if _values_covered([c for i, c in enumerate(seen) if i not in val_idx], sizes, 1):
            break
    else:
        raise failure

    entries = ([(c, 'unseen', None) for c in unseen]
               + [(c, 'seen', 'val' if i in val_idx else 'train') for i, c in enumerate(seen)])
    order = rng.permutation(len(entries))  # unseen classes are spread over the class ids
    classes = []
    for cid, k in enumerate(order, start=1):
        combo, split, subset = entries[k]
        attrs = {g: p[key][combo[i]] for i, (g, key) in enumerate(GROUPS)}
        short = (f"{attrs['body_color']}_{attrs['pattern']}_{attrs['shape']}_"
                 f"{attrs['head_color']}_head")
        classes.append(dict(id=cid, name=f'{cid:03d}.{short}', attributes=attrs,
                            values=list(combo), split=split, seen_subset=subset))
    return dict(classes=classes)


def _attribute_names(p: Dict[str, Any]) -> List[str]:
    return [f'has_{g}::{v}' for g, key in GROUPS for v in p[key]]


def _attribute_matrix(p: Dict[str, Any], classes: List[Dict[str, Any]]) -> np.ndarray:
    """Binary [K, C] matrix (one value per group per class), float64 like MATLAB doubles."""
    names = _attribute_names(p)
    index = {n: i for i, n in enumerate(names)}
    mat = np.zeros((len(names), len(classes)), dtype=np.float64)
    for j, c in enumerate(classes):
        for g, v in c['attributes'].items():
            mat[index[f'has_{g}::{v}'], j] = 1.0
    return mat


def split_report(original_att: np.ndarray, attribute_names: Sequence[str],
                 unseen_ids: Sequence[int], seen_ids: Sequence[int]) -> Dict[str, Any]:
    """Check the properties that make the split a meaningful ZSL benchmark.

    Args:
        original_att: [K, C] class attribute matrix (columns = classes, 0-based).
        attribute_names: K names ``has_<group>::<value>``; the group is the part before ``::``.
        unseen_ids, seen_ids: 0-based class indices.

    Returns:
        A dict with ``disjoint`` (no unseen attribute vector equals a seen one),
        ``uncovered`` (attribute names active in no seen class), and ``group_pairs``: for every
        group, the unseen pairs ``(i, j)`` whose vectors differ only in that group (so removing
        the group would make them identical). Every group needs a non-empty list.
    """
    att = np.asarray(original_att)
    groups = [n.split('::', 1)[0] for n in attribute_names]
    seen_vecs = {tuple(att[:, j]) for j in seen_ids}
    pairs: Dict[str, List[Tuple[int, int]]] = {g: [] for g in dict.fromkeys(groups)}
    for a, b in itertools.combinations(sorted(unseen_ids), 2):
        diff = {groups[k] for k in np.flatnonzero(att[:, a] != att[:, b])}
        if len(diff) == 1:
            pairs[diff.pop()].append((int(a), int(b)))
    covered = att[:, list(seen_ids)].sum(axis=1) > 0
    return dict(
        disjoint=all(tuple(att[:, j]) not in seen_vecs for j in unseen_ids),
        uncovered=[n for n, c in zip(attribute_names, covered) if not c],
        group_pairs=pairs,
    )


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------
def _rot(deg: float) -> np.ndarray:
    t = math.radians(deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def _circle_pts(n: int = 48, r: float = 1.0, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _shape_polys(shape: str) -> List[Tuple[np.ndarray, int]]:
    """Polygons (object frame, body radius 1) with fill 255 (add) or 0 (cut out)."""
    if shape == 'circle':
        return [(_circle_pts(), 255)]
    if shape == 'square':
        a = 0.84
        return [(np.array([[-a, -a], [a, -a], [a, a], [-a, a]]), 255)]
    if shape == 'triangle':
        t = np.radians([-90, 30, 150])
        return [(1.12 * np.stack([np.cos(t), np.sin(t)], axis=1), 255)]
    if shape == 'star':
        t = np.radians(-90 + 36 * np.arange(10))
        r = np.where(np.arange(10) % 2 == 0, 1.18, 0.5)
        return [(np.stack([r * np.cos(t), r * np.sin(t)], axis=1), 255)]
    if shape == 'cross':
        w, e = 0.36, 1.0
        pts = [(-w, -e), (w, -e), (w, -w), (e, -w), (e, w), (w, w), (w, e), (-w, e), (-w, w),
               (-e, w), (-e, -w), (-w, -w)]
        return [(np.array(pts, dtype=float), 255)]
    if shape == 'crescent':
        return [(_circle_pts(), 255), (_circle_pts(r=0.8, cx=0.45), 0)]
    raise ValueError(f'shape={shape!r}: expected one of {list(KNOWN_SHAPES)}')


def _poly(draw: ImageDraw.ImageDraw, pts: np.ndarray, fill: int) -> None:
    draw.polygon([(float(x), float(y)) for x, y in pts], fill=fill)


def _pattern_mask(pattern: str, size: int, center: np.ndarray, radius: float, rot: np.ndarray,
                  phase: np.ndarray) -> Optional[Image.Image]:
    """'L' mask (0/255) of a pattern's dark marks around ``center`` (unclipped), None if plain.

    The pattern lives in the object frame (body radius 1), so it scales and rotates with the
    object; ``phase`` (two numbers in [0, 1)) shifts it.
    """
    if pattern == 'plain':
        return None
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    ext = 1.5

    def to_img(pts):
        return center + radius * (np.asarray(pts, dtype=float) @ rot.T)

    if pattern == 'stripes':
        s = _STRIPE_PERIOD
        for y in np.arange(-ext - s + phase[1] * s, ext, s):
            _poly(draw, to_img([(-ext, y), (ext, y), (ext, y + s / 2), (-ext, y + s / 2)]), 255)
    elif pattern == 'dots':
        s, r = _DOT_SPACING, _DOT_RADIUS * radius
        for row, y in enumerate(np.arange(-ext + phase[1] * s, ext, s * 0.87)):
            xs = np.arange(-ext + (s / 2) * (row % 2) + phase[0] * s, ext, s)
            for cx, cy in to_img(np.stack([xs, np.full_like(xs, y)], axis=1)):
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif pattern == 'checkered':
        s = _CHECK_CELL
        xs = np.arange(-ext + phase[0] * s - s, ext, s)
        ys = np.arange(-ext + phase[1] * s - s, ext, s)
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                if (i + j) % 2 == 0:
                    _poly(draw, to_img([(x, y), (x + s, y), (x + s, y + s), (x, y + s)]), 255)
    else:
        raise ValueError(f'pattern={pattern!r}: expected one of {list(KNOWN_PATTERNS)}')
    return img


def _body_mask(shape: str, size: int, center: np.ndarray, radius: float,
               rot: np.ndarray) -> Image.Image:
    """'L' mask (0/255) of a body shape."""
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    for pts, fill in _shape_polys(shape):
        _poly(draw, center + radius * (pts @ rot.T), fill)
    return img


def _disc_masks(size: int, center: np.ndarray, r: float,
                ring: float) -> Tuple[Image.Image, Image.Image]:
    """'L' masks (outer disc, inner disc) of a disc of radius ``r`` with an outline ``ring``."""
    masks = []
    for rad in (r, r - ring):
        img = Image.new('L', (size, size), 0)
        ImageDraw.Draw(img).ellipse([center[0] - rad, center[1] - rad,
                                     center[0] + rad, center[1] + rad], fill=255)
        masks.append(img)
    return masks[0], masks[1]


def _paint(canvas: Image.Image, mask: Image.Image, rgb: np.ndarray) -> None:
    """Set the pixels of ``canvas`` under the binary ``mask`` to ``rgb`` (only its bbox)."""
    box = mask.getbbox()
    if box is not None:
        canvas.paste(tuple(int(round(c)) for c in np.clip(rgb, 0, 255)), box, mask.crop(box))


def _body_outline(shape: str, size: int, center: np.ndarray, radius: float, rot: np.ndarray,
                  width: int) -> Optional[Image.Image]:
    """'L' mask of lines ``2 * width + 1`` pixels wide along the body's polygon edges; clipped to
    the body by :func:`_paint_patterned` it becomes an inside outline ``width`` pixels wide."""
    if width < 1:
        return None
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    for pts, _ in _shape_polys(shape):
        q = center + radius * (pts @ rot.T)
        draw.line([(float(x), float(y)) for x, y in np.concatenate([q, q[:1]])], fill=255,
                  width=2 * width + 1, joint='curve')
    return img


def _paint_patterned(canvas: Image.Image, region: Image.Image, rgb: np.ndarray,
                     pattern: Optional[Image.Image], dark: np.ndarray,
                     outline: Optional[Image.Image] = None) -> None:
    """Fill ``region`` with ``rgb``; draw the ``pattern`` marks and the ``outline`` lines, both
    clipped to the region, in ``dark``."""
    _paint(canvas, region, rgb)
    for marks in (pattern, outline):
        if marks is not None:
            _paint(canvas, ImageChops.darker(region, marks), dark)


def _paint_disc(canvas: Image.Image, center: np.ndarray, r: float, rgb: np.ndarray,
                dark: np.ndarray) -> Image.Image:
    """Draw a disc with a thin dark outline; return its 'L' mask."""
    size = canvas.size[0]
    outer, inner = _disc_masks(size, center, r, max(1.0, 0.1 * r))
    _paint(canvas, outer, dark)
    _paint(canvas, inner, rgb)
    return outer


def _jitter_rgb(name: str, p: Dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """A palette colour with per-image hue/saturation/value jitter, as RGB in [0, 255]."""
    h, s, v = PALETTE_HSV[name]
    h = (h + rng.uniform(-p['hue_jitter'], p['hue_jitter'])) % 1.0
    s = min(1.0, s * rng.uniform(1 - p['sat_jitter'], 1 + p['sat_jitter']))
    v = min(1.0, v * rng.uniform(1 - p['val_jitter'], 1 + p['val_jitter']))
    return np.array(colorsys.hsv_to_rgb(h, s, v)) * 255.0


def _dark_rgb(rng: np.random.Generator) -> np.ndarray:
    """The near-black of patterns and outlines."""
    return np.full(3, rng.uniform(20, 55)) + rng.uniform(-6, 6, size=3)


def _head_center(shape: str, center: np.ndarray, radius: float, head_scale: float,
                 rot: np.ndarray) -> np.ndarray:
    return center + rot @ np.array([0.0, -(_SHAPE_TOP[shape] + 0.6 * head_scale)]) * radius


def _object_extent(shape: str, head_scale: float, rot: np.ndarray) -> Tuple[np.ndarray, ...]:
    """Bounding box (min xy, max xy) of body + head around the centre, for body radius 1."""
    pts = np.concatenate([poly for poly, fill in _shape_polys(shape) if fill])
    head_c = _head_center(shape, np.zeros(2), 1.0, head_scale, np.eye(2))
    pts = np.concatenate([pts, _circle_pts(16, head_scale * 1.05, *head_c)]) @ rot.T
    return pts.min(axis=0), pts.max(axis=0)


def _draw_clutter(canvas: Image.Image, p: Dict[str, Any], rng: np.random.Generator,
                  obj_radius: float) -> None:
    """Paint semantic-unrelated distractors (attribute colours and forms) onto ``canvas``.

    Textured patches (a rotated rectangle or ellipse in an attribute colour carrying one of the
    patterns), then small shapes from the shape vocabulary (patterned, a quarter of them with a
    head-like disc) and lone head-like discs. All are independent of the image's class.
    """
    size = canvas.size[0]
    outline = int(round(p['outline_px'] * size / p['image_size']))
    colors = sorted(set(p['body_colors']) | set(p['head_colors']))
    shapes, patterns = p['shapes'], p['patterns']
    for _ in range(int(rng.integers(p['clutter_textures'][0], p['clutter_textures'][1] + 1))):
        c = rng.uniform(0, size, size=2)
        half = rng.uniform(0.12, 0.3, size=2) * size
        rot = _rot(rng.uniform(0, 180))
        unit = (np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
                if rng.random() < 0.5 else _circle_pts(40))
        region = Image.new('L', (size, size), 0)
        _poly(ImageDraw.Draw(region), c + (unit * half) @ rot.T, 255)
        rgb = _jitter_rgb(colors[rng.integers(len(colors))], p, rng)
        pat = _pattern_mask(patterns[rng.integers(len(patterns))], size, c,
                            obj_radius * rng.uniform(0.7, 1.2), rot, rng.random(2))
        _paint_patterned(canvas, region, rgb, pat, _dark_rgb(rng))
    for _ in range(int(rng.integers(p['clutter_shapes'][0], p['clutter_shapes'][1] + 1))):
        r = obj_radius * rng.uniform(*p['clutter_scale'])
        c = rng.uniform(0, size, size=2)
        rgb = _jitter_rgb(colors[rng.integers(len(colors))], p, rng)
        kind = rng.random()
        if kind < 0.3:  # a lone disc, the size of a head
            _paint_disc(canvas, c, r * rng.uniform(0.5, 0.9), rgb, _dark_rgb(rng))
            continue
        shape = shapes[rng.integers(len(shapes))]
        rot = _rot(rng.uniform(-180, 180))
        pat = _pattern_mask(patterns[rng.integers(len(patterns))], size, c, r, rot,
                            rng.random(2))
        _paint_patterned(canvas, _body_mask(shape, size, c, r, rot), rgb, pat, _dark_rgb(rng),
                         _body_outline(shape, size, c, r, rot, outline))
        if kind > 0.75:  # with a head of another random colour
            _paint_disc(canvas, _head_center(shape, c, r, p['head_scale'], rot),
                        p['head_scale'] * r, _jitter_rgb(colors[rng.integers(len(colors))], p,
                                                         rng), _dark_rgb(rng))


def render_sample(attributes: Dict[str, str], params: Dict[str, Any],
                  key: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Render one image and its foreground mask.

    Args:
        attributes: ``{'shape': ..., 'body_color': ..., 'pattern': ..., 'head_color': ...}``.
        params: the output of :func:`resolve_params`.
        key: integers identifying the sample (e.g. ``(class_id, image_index)``); together with
            ``params['seed']`` they seed the sample's random streams.

    Returns:
        ``(image, mask)``: uint8 [S, S, 3] RGB and bool [S, S] foreground (body + head), S =
        ``params['image_size']``. The object, mask, background tone and noise do not depend on
        ``params['clutter']``.
    """
    p = params
    ss, out = p['supersample'], p['image_size']
    size = out * ss
    key = [int(k) for k in key]
    obj_rng = np.random.default_rng([p['seed'], 1, *key])
    bg_rng = np.random.default_rng([p['seed'], 2, *key])

    # Object geometry: scale, rotation, then a position that keeps body + head inside.
    shape = attributes['shape']
    rot = _rot(obj_rng.uniform(-p['rotation_deg'], p['rotation_deg']))
    radius = obj_rng.uniform(*p['object_scale']) * size
    lo, hi = _object_extent(shape, p['head_scale'], rot)
    span_lo, span_hi = -lo * radius + ss, size - hi * radius - ss
    center = np.array([obj_rng.uniform(a, b) if b > a else (a + b) / 2
                       for a, b in zip(span_lo, span_hi)])
    body_rgb = _jitter_rgb(attributes['body_color'], p, obj_rng)
    head_rgb = _jitter_rgb(attributes['head_color'], p, obj_rng)
    dark = _dark_rgb(obj_rng)
    phase = obj_rng.random(2)

    # Background: a light, low-saturation tone (shared by both variants), then the clutter.
    tone = bg_rng.uniform(150, 215) + bg_rng.uniform(-10, 10, size=3)
    canvas = Image.new('RGB', (size, size), tuple(int(round(c)) for c in tone))
    if p['clutter']:
        _draw_clutter(canvas, p, np.random.default_rng([p['seed'], 3, *key]), radius)

    body = _body_mask(shape, size, center, radius, rot)
    _paint_patterned(canvas, body, body_rgb,
                     _pattern_mask(attributes['pattern'], size, center, radius, rot, phase), dark,
                     _body_outline(shape, size, center, radius, rot,
                                   int(round(p['outline_px'] * ss))))
    head = _paint_disc(canvas, _head_center(shape, center, radius, p['head_scale'], rot),
                       p['head_scale'] * radius, head_rgb, dark)
    alpha = ImageChops.lighter(body, head)

    if ss > 1:
        canvas, alpha = canvas.reduce(ss), alpha.reduce(ss)
    img = np.asarray(canvas, dtype=np.float64)
    mask = np.asarray(alpha) >= 128
    if p['noise_std'] > 0:
        img = img + bg_rng.normal(0.0, p['noise_std'], size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), mask


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------
#: The generator's files outside ``images/`` and ``masks/`` (:data:`META_FILE` is written last).
_TOP_FILES = ('res101.mat', 'att_splits.mat', ATTRIBUTES_FILE, 'classes.txt', CLASS_TABLE_FILE,
              META_FILE)
#: The generator's image/mask files and folders, by name (for datasets of another format
#: version, whose exact file list the current code cannot compute).
_OWN_FILE_RE = re.compile(r'(images|masks)/[^/]+/img_\d{5}\.png')
_OWN_DIR_RE = re.compile(r'(images|masks)(/[^/]+)?|attributes')

_log = logging.getLogger(__name__)


def _write(path: Path, write: Callable[[Path], Any], atomic: bool) -> None:
    """``write(path)``; with ``atomic``, into a hidden sibling that then replaces ``path``, so
    that a reader of a dataset in use never sees a half-written file. The sibling keeps the
    suffix: PIL and scipy choose the format by it."""
    if not atomic:
        write(path)
        return
    tmp = path.with_name(f'.{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}')
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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


def load_synthetic_meta(out_dir) -> Optional[Dict[str, Any]]:
    """The parsed :data:`META_FILE` of ``out_dir``, or None if it has none (or it is unreadable)."""
    path = Path(out_dir) / META_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get('generator') else None


# --------------------------------------------------------------------------------------------
# The generator's files in an existing folder: which are missing, which are not its own
# --------------------------------------------------------------------------------------------
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


def _make_command(out_dir, params: Dict[str, Any]) -> str:
    """The ``tools/make_synthetic_zsl.py`` command line that writes the dataset of ``params``
    (a :func:`resolve_params` result) into ``out_dir``; for messages."""
    import shlex
    preset = params.get('preset', 'default')
    base = PRESETS.get(preset, PRESETS['default'])
    args = ['python', 'tools/make_synthetic_zsl.py', '--out', shlex.quote(str(out_dir))]
    if preset != 'default':
        args += ['--preset', shlex.quote(str(preset))]
    if params.get('seed', 0) != 0:
        args += ['--seed', str(params['seed'])]
    if params.get('image_size', 64) != 64:
        args += ['--image-size', str(params['image_size'])]
    if params.get('clutter', True) is False:
        args.append('--no-clutter')
    for key in sorted(base):
        if key in params and params[key] != base[key]:
            value = json.dumps(params[key], separators=(',', ':'))
            args += ['--set', shlex.quote(f'{key}={value}')]
    return ' '.join(args)


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


def generate_synthetic_zsl(out_dir, preset: str = 'default', seed: int = 0,
                           image_size: int = 64, clutter: bool = True, workers: int = 1,
                           **overrides) -> Path:
    """Generate the synthetic ZSL dataset into ``out_dir`` (always regenerating).

    The data is written into a temporary sibling directory and moved into place at the end, so
    ``out_dir`` never holds a half-written or mixed dataset. A new folder gets the permissions
    of the umask; a replaced one keeps its own. An existing ``out_dir`` is replaced only if it
    is empty or is itself a synthetic dataset (has :data:`META_FILE`) holding nothing but the
    generator's files; otherwise :class:`FileExistsError` names what is in the way, before
    anything is rendered. A symbolic link ``out_dir`` stays: the folder it points to is
    replaced.

    Args:
        out_dir: the dataset root to write.
        preset: ``'default'`` (40 classes, 2,560 images) or ``'large'``; see :data:`PRESETS`.
        seed: the random seed; equal parameters give byte-identical files.
        image_size: image side in pixels (square images).
        clutter: draw background distractors; False gives the clean variant of the same data.
        workers: processes used for rendering (does not change the output).
        **overrides: any key of the preset (e.g. ``images_per_class=8``, ``n_unseen=5``).

    Returns:
        ``out_dir`` as an absolute :class:`pathlib.Path`.
    """
    params = resolve_params(preset, seed, image_size, clutter, **overrides)
    out = Path(out_dir).expanduser().absolute()
    _generate(out, params, workers, keep_identical=False)
    return out


def _generate(out_dir: Path, params: Dict[str, Any], workers: int, keep_identical: bool) -> None:
    workers = _check_number('workers', workers, 1, 256, integer=True)
    if out_dir.is_symlink():
        out_dir = out_dir.resolve()  # replace the folder linked to, keep the link
    _check_replaceable(out_dir)  # before spending time on rendering
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # os.mkdir, not tempfile.mkdtemp: the folder becomes the dataset root and should get the
    # umask's permissions (mkdtemp makes it 0700).
    for _ in range(100):
        tmp = _sibling(out_dir, 'tmp')
        try:
            tmp.mkdir()
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f'could not create a temporary folder next to {out_dir}')
    try:
        _write_dataset(tmp, params, workers)
        _replace_dir(tmp, out_dir, params, keep_identical)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _restore(out: Path, params: Dict[str, Any], missing: List[str], workers: int) -> None:
    """Re-render the ``missing`` files of the dataset at ``out`` in place (nothing else is
    touched); identical to the lost ones since generation is deterministic."""
    _log.warning('%s: %d file(s) of the synthetic dataset are missing (%s); writing them again '
                 'from the recorded parameters (generation is deterministic, so they are '
                 'identical to the lost ones)', out, len(missing), _some(missing))
    try:
        _write_dataset(out, params, _check_number('workers', workers, 1, 256, integer=True),
                       only=set(missing))
    except OSError as err:
        raise OSError(
            f'{out} misses {len(missing)} file(s) of its synthetic dataset ({_some(missing)}) '
            f'and writing them again failed: {err}. Restore them with: '
            f'{_make_command(out, params)} (it writes only the missing files)') from err
    still = _missing_files(out, params)
    if still:
        raise RuntimeError(f'{out}: {len(still)} file(s) of the synthetic dataset are still '
                           f'missing after restoring them: {_some(still)}')


def _check_request(out: Path, recorded: Any, requested: Dict[str, Any]) -> None:
    """Raise :class:`FileExistsError` if the dataset recorded at ``out`` is of another format
    version or differs from any ``requested`` parameter (the message lists name, recorded and
    requested value of each)."""
    if not isinstance(recorded, dict) or recorded.get('format_version') != FORMAT_VERSION:
        version = recorded.get('format_version') if isinstance(recorded, dict) else None
        try:
            redo = _make_command(out, resolve_params(**requested)) + ' --overwrite'
        except ValueError:
            redo = 'tools/make_synthetic_zsl.py --out DIR --overwrite with its parameters'
        raise FileExistsError(
            f'{out} holds a synthetic dataset of format version {version!r} ({META_FILE}); this '
            f'svip_mm writes version {FORMAT_VERSION} (the rendering or the layout changed), '
            "so it is not used. Nothing was changed. Replace the generator's files with: "
            f"{redo} (or pass on_mismatch='regenerate'); files the generator did not write "
            'are never deleted')
    base = {k: v for k, v in recorded.items() if k != 'format_version'}
    try:
        # the requested values normalised by resolve_params, the rest as recorded
        wanted = resolve_params(**dict(base, **requested))
    except ValueError:
        # not valid together with the recorded rest (e.g. another preset): a request that is
        # valid on its own still differs, and an invalid one raises here
        wanted = resolve_params(**requested)
    diff = [(k, recorded.get(k), wanted[k]) for k in sorted(requested)
            if wanted[k] != recorded.get(k)]
    if not diff:
        return
    lines = ''.join(f'\n  {k}: recorded {a!r}, requested {b!r}' for k, a, b in diff)
    raise FileExistsError(
        f'{out} holds a synthetic dataset generated with other parameters than requested '
        f'(recorded in {out / META_FILE}):{lines}\n'
        'Nothing was changed. To use the dataset as it is, leave these parameters out (the '
        'ones not given are read from the folder). To replace the generator\'s files with the '
        "requested dataset (parameters not given at their preset defaults), pass "
        f"on_mismatch='regenerate', or run: {_make_command(out, resolve_params(**requested))} "
        '--overwrite. Or choose another directory.')


def ensure_synthetic_zsl(out_dir, preset: Optional[str] = None, seed: Optional[int] = None,
                         image_size: Optional[int] = None, clutter: Optional[bool] = None,
                         workers: int = 1, on_mismatch: str = 'raise', **overrides) -> Path:
    """Return ``out_dir`` holding a synthetic dataset, generating it if the folder is absent.

    The generator's parameters (``preset``, ``seed``, ``image_size``, ``clutter`` and any
    preset key as an override) count as *given* when not None.

    * Absent or empty ``out_dir``: the dataset of the given parameters is generated, the others
      at the preset's defaults (``preset='default'``, ``seed=0``, ``image_size=64``,
      ``clutter=True``). A new folder gets the umask's permissions.
    * ``out_dir`` holds a synthetic dataset (:data:`META_FILE`), ``on_mismatch='raise'``
      (default): it is used as it is; parameters not given are whatever it records. If a given
      parameter differs from the recorded one, or the dataset is of another
      :data:`FORMAT_VERSION`, :class:`FileExistsError` lists each difference (name, recorded
      value, requested value) and how to proceed, and nothing is written.
    * ``on_mismatch='regenerate'`` (an explicit request): the folder must hold the dataset of
      the given parameters with the others at their preset defaults, so the result does not
      depend on what was there. A different one is replaced: the new dataset is written next
      to it and swapped in, and of the old one only the generator's files are deleted. If the
      folder holds anything the generator did not write (e.g. word vectors of its attribute
      names, a user's notes), it is not replaced: :class:`FileExistsError` names those files.
    * Files of the dataset that are missing (deleted images, masks or tables) are written again
      in place, byte-identical to the lost ones (generation is deterministic); nothing else in
      the folder is touched.
    * A non-empty directory without :data:`META_FILE` is never touched
      (:class:`FileExistsError`).

    Args:
        out_dir: the dataset folder.
        preset, seed, image_size, clutter: generator parameters as in
            :func:`generate_synthetic_zsl`; None = not given.
        **overrides: the other generator parameters, likewise.
        workers: rendering processes (does not change the output).
        on_mismatch: ``'raise'`` or ``'regenerate'``, see above.

    Raises:
        ValueError: an invalid parameter or ``on_mismatch``.
        FileExistsError: see above.
    """
    if on_mismatch not in ('regenerate', 'raise'):
        raise ValueError(f"on_mismatch={on_mismatch!r}: expected 'raise' (default: use the "
                         "folder's dataset, refuse other parameters) or 'regenerate'")
    requested = {k: v for k, v in dict(overrides, preset=preset, seed=seed,
                                       image_size=image_size, clutter=clutter).items()
                 if v is not None}
    out = Path(out_dir).expanduser().absolute()
    meta = load_synthetic_meta(out) if out.is_dir() else None
    if meta is None:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise FileExistsError(
                f'{out} exists, is not empty and holds no {META_FILE}; expected an empty or new '
                'directory (or one written by the synthetic generator)')
        _generate(out, resolve_params(**requested), workers, keep_identical=True)
        return out
    recorded = meta.get('params')
    if on_mismatch == 'regenerate':
        params = resolve_params(**requested)
        if recorded != params:
            _generate(out, params, workers, keep_identical=True)
            return out
    else:
        _check_request(out, recorded, requested)
        params = recorded
    missing = _missing_files(out, params)
    if missing:
        _restore(out, params, missing, workers)
    return out
