"""Parity of the CUB / AwA2 / SUN configs with the released SVIP pipeline (issue 13, section 1).

The released behaviours written here (attribute groups, PIL-bilinear resizing as torchvision
does it, ``drop_last``, the max-pool prototype) are facts about the released code, stated
independently of svip_mm's implementation.
"""

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS, TRANSFORMS
from PIL import Image

import svip_mm  # noqa: F401
from svip_mm.datasets.attribute_groups import (AWA2_PREDICATES, SUN_ATTRIBUTES,
                                               resolve_attribute_groups)
from repo import REPO

REAL = ('cub', 'awa2', 'sun')


def _config(name):
    return Config.fromfile(str(REPO / f'configs/svip_vit_{name}.py'))


def _partition(groups):
    return {frozenset(int(i) for i in members) for _, members in groups}


# ---------------------------------------------------------------- 1. attribute groups
# The released get_attr_group, by attribute index (issue 13).
RELEASED_AWA2 = [range(0, 8), range(8, 14), range(14, 18), [*range(18, 34), 44, 45],
                 range(34, 44), range(46, 51), range(51, 63), range(63, 78), range(78, 85)]
RELEASED_SUN = [range(0, 36), [*range(36, 74), 80, 99], [*range(74, 80), *range(81, 85)],
                [*range(85, 99), 100, 101]]
# CUB's attributes.txt: the 28 has_x:: groups in file order with their value counts.
CUB_GROUP_SIZES = [
    ('has_bill_shape', 9), ('has_wing_color', 15), ('has_upperparts_color', 15),
    ('has_underparts_color', 15), ('has_breast_pattern', 4), ('has_back_color', 15),
    ('has_tail_shape', 6), ('has_upper_tail_color', 15), ('has_head_pattern', 11),
    ('has_breast_color', 15), ('has_throat_color', 15), ('has_eye_color', 14),
    ('has_bill_length', 3), ('has_forehead_color', 15), ('has_under_tail_color', 15),
    ('has_nape_color', 15), ('has_belly_color', 15), ('has_wing_shape', 5), ('has_size', 5),
    ('has_shape', 14), ('has_back_pattern', 4), ('has_tail_pattern', 4),
    ('has_belly_pattern', 4), ('has_primary_color', 15), ('has_leg_color', 15),
    ('has_bill_color', 15), ('has_crown_color', 15), ('has_wing_pattern', 4)]
# The released CUB groups: 28 contiguous index ranges, given by their starts.
RELEASED_CUB_STARTS = [0, 9, 24, 39, 54, 58, 73, 79, 94, 105, 120, 135, 149, 152, 167, 182,
                       197, 212, 217, 222, 236, 240, 244, 248, 263, 278, 293, 308, 312]
CUB_NAMES = [f'{g}::v{j}' for g, n in CUB_GROUP_SIZES for j in range(n)]

NAMES = {'cub': CUB_NAMES, 'awa2': list(AWA2_PREDICATES), 'sun': list(SUN_ATTRIBUTES)}
RELEASED = {
    'cub': [range(a, b) for a, b in zip(RELEASED_CUB_STARTS, RELEASED_CUB_STARTS[1:])],
    'awa2': RELEASED_AWA2,
    'sun': RELEASED_SUN,
}


@pytest.mark.parametrize('name', REAL)
def test_configs_group_attributes_as_the_released_code(name):
    cfg = _config(name)
    expected = {frozenset(r) for r in RELEASED[name]}
    for loader in ('train_dataloader', 'test_dataloader'):
        rule = cfg[loader].dataset.get('attribute_groups')
        assert rule is not None, f'{name}: {loader}.dataset.attribute_groups is not set'
        groups, _ = resolve_attribute_groups(rule, NAMES[name])
        got = _partition(groups)
        wrong = sorted(i for s in got ^ expected for i in s)
        assert got == expected, (f'{name}: {loader}.dataset.attribute_groups={rule!r} groups '
                                 f'attributes {sorted(set(wrong))} differently from the '
                                 'released get_attr_group')


@pytest.mark.parametrize('name', ['awa2', 'sun'])
def test_datasets_built_from_the_configs_carry_the_released_groups(name, tmp_path):
    """The config's dataset dict, on a tiny xlsa17 tree, puts the released groups in
    dataset_meta (read by ZSLClassTableHook for the decorrelation loss)."""
    from mmpretrain.registry import DATASETS
    from xlsa17_fixture import write_xlsa17_fixture
    fx = write_xlsa17_fixture(str(tmp_path / name), layout=name, images_per_class=2)
    init_default_scope('mmpretrain')
    ds_cfg = _config(name).train_dataloader.dataset.to_dict()
    ds_cfg.update(fx.dataset_kwargs(pipeline=[], serialize_data=False, lazy_init=True))
    meta = DATASETS.build(ds_cfg).metainfo
    assert _partition(meta['attribute_groups']) == {frozenset(r) for r in RELEASED[name]}
    ids = meta['attribute_group_ids']
    for members in RELEASED[name]:
        assert len(set(ids[list(members)].tolist())) == 1, f'{name}: {list(members)} split'


@pytest.mark.parametrize('table, moved', [('awa2', {'smelly', 'newworld'}),
                                          ('sun', {'sterile', 'warm', 'cold', 'scary'})])
def test_semantic_tables_stay_available_and_differ_only_where_the_issue_says(table, moved):
    names = NAMES[table]
    semantic, _ = resolve_attribute_groups(table, names)
    released, _ = resolve_attribute_groups(f'{table}_released', names)
    assert sorted(g for g, _ in semantic) == sorted(g for g, _ in released)  # same names

    def group_of(groups):
        return {i: g for g, members in groups for i in members}

    sem, rel = group_of(semantic), group_of(released)
    differ = {names[i] for i in range(len(names)) if sem[i] != rel[i]}
    assert differ == moved, f'{table}: semantic and released tables differ in {differ}'


# ---------------------------------------------------------------- 2. resizing
RESIZERS = ('ResizeEdge', 'Resize', 'RandomResizedCrop')


def _pattern(h, w):
    """High-frequency BGR uint8 image: one-pixel checkerboards (a different phase per
    channel) plus noise, which a non-antialiased downscale aliases."""
    y, x = np.mgrid[:h, :w]
    rng = np.random.default_rng(0)
    chans = [((x + y + c) % 2) * 200 + rng.integers(0, 55, (h, w)) for c in range(3)]
    return np.stack(chans, -1).astype(np.uint8)


def _run(steps, img):
    results = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
    for step in steps:
        results = TRANSFORMS.build(step)(results)
    return results['img']


@pytest.mark.parametrize('name', REAL)
def test_real_pipelines_resize_with_pil_bilinear(name):
    cfg = _config(name)
    for pipe in ('train_pipeline', 'test_pipeline'):
        for step in cfg[pipe]:
            if step['type'] in RESIZERS:
                got = (step.get('backend', 'cv2'), step.get('interpolation', 'bilinear'))
                assert got == ('pillow', 'bilinear'), (
                    f'{name} {pipe} {step["type"]}: backend, interpolation = {got}; expected '
                    "('pillow', 'bilinear'), the released torchvision resize (PIL, antialiased)")


def _pil(img, size):
    return np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR))


def _center(img, size):
    h, w = img.shape[:2]
    top, left = int(round((h - size) / 2)), int(round((w - size) / 2))
    return img[top:top + size, left:left + size]


@pytest.mark.parametrize('name, pipe', [('cub', 'train_pipeline'), ('cub', 'test_pipeline'),
                                        ('awa2', 'train_pipeline'), ('sun', 'train_pipeline')])
def test_pipeline_output_is_the_released_pil_resize_not_cv2(name, pipe):
    """Downscale a high-frequency image with the config's resize steps; compare with PIL's
    bilinear resize (what torchvision's Resize / RandomResizedCrop do on PIL images) and
    with cv2's INTER_LINEAR (no antialiasing)."""
    init_default_scope('mmpretrain')
    h, w = 600, 800
    img = _pattern(h, w)
    steps = [dict(s) for s in _config(name)[pipe]
             if s['type'] not in ('LoadImageFromFile', 'PackInputs', 'RandomFlip')]
    if name == 'sun':  # crop the whole image so that only the resize remains
        img = img[:, :h].copy()
        w = h
        steps[0].update(crop_ratio_range=(1.0, 1.0), aspect_ratio_range=(1.0, 1.0))
    out = _run(steps, img)
    # the released sizes: torchvision Resize(256) (short edge, long edge truncated) then
    # CenterCrop(224); Resize((224, 224)) for AwA2 training; RandomResizedCrop(224) for SUN
    if name == 'awa2' or name == 'sun':
        size = (224, 224)
        pil, cv = _pil(img, size), cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    else:
        size = (int(256 * w / h), 256)
        pil = _center(_pil(img, size), 224)
        cv = _center(cv2.resize(img, size, interpolation=cv2.INTER_LINEAR), 224)
    assert out.shape == pil.shape == (224, 224, 3)
    diff_pil = np.abs(out.astype(int) - pil).max()
    diff_cv = np.abs(out.astype(int) - cv).mean()
    assert diff_pil <= 1, f'{name} {pipe}: differs from PIL bilinear by up to {diff_pil}'
    assert diff_cv > 10, f'{name} {pipe}: within {diff_cv:.1f} of cv2 INTER_LINEAR (aliased)'
    # the PIL output is the antialiased one: close to the local mean of the pattern
    assert abs(float(pil.astype(float).std()) - float(cv.astype(float).std())) > 10


# ---------------------------------------------------------------- 3. drop_last
class _Items(torch.utils.data.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return i


@pytest.mark.parametrize('name', REAL)
def test_training_loaders_drop_the_last_incomplete_batch(name):
    from mmengine.runner import Runner
    loader_cfg = _config(name).train_dataloader
    assert loader_cfg.get('drop_last') is True, (
        f'{name}: train_dataloader.drop_last={loader_cfg.get("drop_last")!r}; expected True '
        'as in the released training loader')
    # MMEngine hands drop_last to torch's DataLoader: 10 items in batches of 4 -> 2 batches
    cfg = dict(loader_cfg.to_dict(), dataset=_Items(), batch_size=4, num_workers=0,
               persistent_workers=False, pin_memory=False)
    cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
    loader = Runner.build_dataloader(cfg, seed=0)
    assert [len(b) for b in loader] == [4, 4]


# ---------------------------------------------------------------- 4. target-pass prototype
def _expected_keep(units, k, pool):
    # independent: prototype = pooled unit, dot-product similarity, the k largest
    proto = units.max(dim=1).values if pool == 'max' else units.sum(dim=1) / units.size(1)
    sim = torch.einsum('bud,bd->bu', units, proto)
    keep = torch.zeros_like(sim, dtype=torch.bool)
    for b in range(sim.size(0)):
        order = sorted(range(sim.size(1)), key=lambda u: -float(sim[b, u]))
        keep[b, order[:k]] = True
    return keep


@pytest.mark.parametrize('pooling', ['mean', 'max'])
def test_target_pass_reselects_by_the_heads_pooling(pooling):
    """Capture the target pass's units and keep set in the training step of a tiny SVIP
    model and recompute the keep set independently."""
    from test_svip_classifier import _batch, tiny_svip_cfg
    torch.manual_seed(0)
    cfg = tiny_svip_cfg()
    cfg['head']['pooling'] = pooling
    model = MODELS.build(cfg)
    calls = []
    original = model.head.attribute_scores

    def spy(units, keep=None):
        calls.append((units.detach().clone(), None if keep is None else keep.clone()))
        return original(units, keep)

    model.head.attribute_scores = spy
    images, samples = _batch()
    data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), True)
    model(**data, mode='loss')
    assert len(calls) == 2, 'expected a source and a target pass'
    tgt_units, keep_tgt = calls[1]
    expected = _expected_keep(tgt_units.float(), model.neck.keep_k, pooling)
    assert torch.equal(keep_tgt, expected), (
        f'pooling={pooling!r}: target-pass keep set is not the k units closest to the '
        f'{pooling}-pooled prototype')
    if pooling == 'max':  # the two prototypes pick different sets here, so the test can tell
        assert not torch.equal(expected, _expected_keep(tgt_units.float(),
                                                        model.neck.keep_k, 'mean'))


def test_reselect_by_prototype_defaults_to_the_mean():
    from svip_mm.models.classifiers import reselect_by_prototype
    units = torch.randn(3, 16, 8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(reselect_by_prototype(units, 5), _expected_keep(units, 5, 'mean'))
    assert torch.equal(reselect_by_prototype(units, 5, pooling='max'),
                       _expected_keep(units, 5, 'max'))
