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
``class_split.py``); with a random choice a network reads, e.g., the shape off the colours
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
# The package's modules, one concept each: vocabulary (attribute groups and values), parameters
# (presets, resolve_params), class_split (which combinations are seen / unseen), rendering (one
# image and mask), layout (the files on disk, which are the generator's own), writer (writing a
# dataset's files), replace (swapping a written folder into place), generate (the entry points).
# The names below are importable from here as they were from the single module before; the
# private ones are used by the tests.
from .class_split import _choose_classes, _SeenSetStats, split_report  # noqa: F401
from .generate import ensure_synthetic_zsl, generate_synthetic_zsl
from .layout import (ATTRIBUTES_FILE, CLASS_TABLE_FILE, META_FILE,  # noqa: F401
                     load_synthetic_meta)
from .parameters import FORMAT_VERSION, PRESETS, resolve_params
from .rendering import render_sample
from .vocabulary import (GROUPS, KNOWN_PATTERNS, KNOWN_SHAPES, PALETTE_HSV,  # noqa: F401
                         group_names)

__all__ = [
    'PRESETS', 'FORMAT_VERSION', 'META_FILE', 'generate_synthetic_zsl', 'ensure_synthetic_zsl',
    'resolve_params', 'load_synthetic_meta', 'split_report', 'render_sample', 'group_names',
]
