"""The generator's parameters: the named presets, the format version, and
:func:`resolve_params`, which expands a preset plus overrides into the full, validated parameter
dict that a dataset records and that determines it."""
import json
import math
from typing import Any, Dict, List

import numpy as np

from .vocabulary import _KNOWN_VALUES, GROUPS

#: Bumped whenever the rendering or the file layout changes, so that a dataset written by
#: another version is recognised (:func:`ensure_synthetic_zsl` refuses it unless asked to
#: regenerate).
FORMAT_VERSION = 2

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
