"""xlsa17-format ZSL datasets: splits, path mapping, metainfo, bad input, check mode, pipelines.

Every dataset here is a tiny tree written by :mod:`xlsa17_fixture` in the exact xlsa17 layout.
"""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import scipy.io
import torch

from xlsa17_fixture import update_mat, write_xlsa17_fixture

from svip_mm.datasets import (ZSLAWA2, ZSLCUB, ZSLSUN, Xlsa17FormatError, ZSLXlsa17Dataset,
                              map_image_path, read_attribute_names, resolve_attribute_groups)
from repo import REPO as REPO_PATH, load_tool

REPO = str(REPO_PATH)
CLASSES = {'cub': ZSLCUB, 'awa2': ZSLAWA2, 'sun': ZSLSUN}
SPLIT_NAMES = ('trainval', 'train', 'val', 'test_seen', 'test_unseen', 'test')


@pytest.fixture(scope='module')
def trees(tmp_path_factory):
    """One intact fixture tree per layout (read-only for the tests using it)."""
    root = tmp_path_factory.mktemp('xlsa17')
    return {layout: write_xlsa17_fixture(str(root / layout), layout=layout, seed=i)
            for i, layout in enumerate(CLASSES)}


@pytest.fixture
def cub(tmp_path):
    """A fresh CUB-layout tree that a test may break."""
    return write_xlsa17_fixture(str(tmp_path / 'cub'), layout='cub')


def build(fx, cls=None, **kwargs):
    cls = cls or CLASSES[fx.layout]
    # mmengine's serialisation runs gc.collect() (~0.2 s each); the pipeline test keeps it.
    kwargs.setdefault('serialize_data', False)
    return cls(**fx.dataset_kwargs(**kwargs))


# ---------------------------------------------------------------- the fixture itself
def test_fixture_is_the_xlsa17_layout(trees):
    fx = trees['cub']
    res = scipy.io.loadmat(fx.res101_file)
    spl = scipy.io.loadmat(fx.att_splits_file)
    n, c, k = len(fx.labels), len(fx.class_names), len(fx.attribute_names)
    assert res['image_files'].shape == (n, 1) and res['image_files'].dtype == object
    first = str(res['image_files'][0, 0][0])
    assert first.startswith('/BS/') and '/images/' in first
    assert res['labels'].shape == (n, 1) and res['labels'].min() == 1
    assert res['labels'].max() == c
    assert spl['att'].shape == spl['original_att'].shape == (k, c)
    np.testing.assert_allclose(np.linalg.norm(spl['att'], axis=0), 1.0)
    for name in ('trainval_loc', 'train_loc', 'val_loc', 'test_seen_loc', 'test_unseen_loc'):
        assert spl[name].min() >= 1 and spl[name].max() <= n
    assert osp.isfile(fx.local_path(0))
    assert '//JPEGImages/' in trees['awa2'].image_files[0]  # the authors' double slash


# ---------------------------------------------------------------- splits and classes
@pytest.mark.parametrize('layout', list(CLASSES))
def test_every_split_count_order_and_classes(trees, layout):
    fx = trees[layout]
    classes = dict(trainval=fx.seen_classes, train=fx.train_classes, val=fx.val_classes,
                   test_seen=fx.seen_classes, test_unseen=fx.unseen_classes,
                   test=fx.seen_classes + fx.unseen_classes)
    for split in SPLIT_NAMES:
        ds = build(fx, split=split)
        rows = fx.split_rows(split)
        infos = [ds.get_data_info(i) for i in range(len(ds))]
        assert len(ds) == len(rows), split
        # Order and 0-based global labels follow the 1-based *_loc vectors of the file.
        assert [d['gt_label'] for d in infos] == fx.labels[rows].tolist(), split
        assert [d['img_path'] for d in infos] == [fx.local_path(r) for r in rows], split
        assert sorted({d['gt_label'] for d in infos}) == classes[split], split
        assert [d['is_unseen'] for d in infos] == [
            int(fx.labels[r]) in fx.unseen_classes for r in rows], split
        assert all(isinstance(d['gt_label'], int) and isinstance(d['is_unseen'], bool)
                   for d in infos)
    assert len(build(fx, split='test')) == (len(build(fx, split='test_seen')) +
                                            len(build(fx, split='test_unseen')))


@pytest.mark.parametrize('layout, num_groups', [('cub', 4), ('awa2', 9), ('sun', 4)])
def test_metainfo_contract(trees, layout, num_groups):
    fx = trees[layout]
    meta = build(fx, split='test').metainfo
    c, k = len(fx.class_names), len(fx.attribute_names)
    assert meta['classes'] == tuple(fx.class_names)
    assert meta['seen_classes'] == fx.seen_classes
    assert meta['unseen_classes'] == fx.unseen_classes
    assert meta['train_classes'] == fx.train_classes and meta['val_classes'] == fx.val_classes
    att = meta['class_attributes']
    assert att.dtype == np.float32 and att.shape == (c, k)
    np.testing.assert_allclose(np.linalg.norm(att, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(att, fx.att.T, rtol=1e-6)
    orig = meta['class_attributes_original']
    assert orig.dtype == np.float32 and orig.shape == (c, k)
    np.testing.assert_allclose(orig, fx.original_att.T, rtol=1e-6)
    assert meta['attribute_names'] == fx.attribute_names
    groups, ids = meta['attribute_groups'], meta['attribute_group_ids']
    assert len(groups) == num_groups and ids.dtype == np.int64 and ids.shape == (k, )
    for g, (name, members) in enumerate(groups):
        assert isinstance(name, str) and (ids[members] == g).all()
    assert sorted(i for _, m in groups for i in m) == list(range(k))


def test_attribute_group_rules():
    cub_names = ['has_bill_shape::dagger', 'has_bill_shape::hooked', 'has_wing_color::blue']
    groups, ids = resolve_attribute_groups('prefix', cub_names)
    assert groups == [['has_bill_shape', [0, 1]], ['has_wing_color', [2]]]
    assert ids.tolist() == [0, 0, 1]
    assert resolve_attribute_groups('auto', cub_names)[0] == groups
    assert resolve_attribute_groups('auto', ['red', 'blue'])[1].tolist() == [0, 1]
    assert resolve_attribute_groups({'a': [1], 'b': [0, 2]}, cub_names)[1].tolist() == [1, 0, 1]
    from svip_mm.datasets import AWA2_PREDICATES
    groups, ids = resolve_attribute_groups('awa2', list(AWA2_PREDICATES))
    named = {name: [AWA2_PREDICATES[i] for i in m] for name, m in groups}
    assert 'bipedal' in named['body_parts'] and 'smelly' in named['character']
    assert 'newworld' in named['habitat'] and ids[AWA2_PREDICATES.index('black')] == 0
    with pytest.raises(ValueError, match='in two groups'):
        resolve_attribute_groups([['a', [0, 1]], ['b', [1, 2]]], cub_names)
    with pytest.raises(ValueError, match='in no group'):
        resolve_attribute_groups([['a', [0, 1]]], cub_names)
    with pytest.raises(ValueError, match='85 attributes'):
        resolve_attribute_groups('awa2', cub_names)
    with pytest.raises(ValueError, match='unknown attribute_groups rule'):
        resolve_attribute_groups('colour', cub_names)


def test_read_attribute_names_formats(tmp_path):
    (tmp_path / 'cub.txt').write_text('1 has_bill_shape::curved_(up_or_down)\n2 has_size::large\n')
    (tmp_path / 'awa.txt').write_text('      1\tblack\n      2\twhite\n\n')
    (tmp_path / 'plain.txt').write_text('red\nlight blue\n')
    cell = np.empty((2, 1), dtype=object)
    cell[0, 0], cell[1, 0] = 'sailing/ boating', 'driving'
    scipy.io.savemat(tmp_path / 'sun.mat', {'attributes': cell})
    assert read_attribute_names(str(tmp_path / 'cub.txt')) == [
        'has_bill_shape::curved_(up_or_down)', 'has_size::large']
    assert read_attribute_names(str(tmp_path / 'awa.txt')) == ['black', 'white']
    assert read_attribute_names(str(tmp_path / 'plain.txt')) == ['red', 'light blue']
    assert read_attribute_names(str(tmp_path / 'sun.mat')) == ['sailing/ boating', 'driving']
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        read_attribute_names(str(tmp_path / 'nope.txt'))


# ---------------------------------------------------------------- path mapping
def test_map_image_path():
    cub = '/BS/Deep_Fragments/work/MSc/CUB_200_2011/CUB_200_2011/images/001.A/A_1.jpg'
    assert map_image_path(cub, 'images/') == '001.A/A_1.jpg'
    assert map_image_path(cub, '/images') == '001.A/A_1.jpg'
    awa = '/BS/xian/work/data/Animals_with_Attributes2//JPEGImages/antelope/antelope_10001.jpg'
    assert map_image_path(awa, 'JPEGImages/') == 'antelope/antelope_10001.jpg'
    # Whole components only: 'images/' is not the tail of 'JPEGImages/'.
    assert map_image_path(awa, 'images/') is None
    # The last anchor wins (an authors' root may itself contain the anchor name).
    assert map_image_path('/data/images/SUN/images/a/abbey/x.jpg', 'images/') == 'a/abbey/x.jpg'
    assert map_image_path('C:\\data\\CUB\\images\\001.A\\x.jpg', 'images/') == '001.A/x.jpg'
    assert map_image_path('/x/images/', 'images/') is None
    assert map_image_path('001.A/x.jpg', None) == '001.A/x.jpg'
    assert map_image_path('/abs/001.A/x.jpg', None) is None


def test_image_folder_and_anchor_are_configurable(cub):
    os.rename(osp.join(cub.root, 'images'), osp.join(cub.root, 'photos'))
    ds = build(cub, data_prefix='photos', split='test_unseen')
    rows = cub.split_rows('test_unseen')
    assert ds.get_data_info(0)['img_path'] == osp.join(cub.root, 'photos', cub.rel_paths[rows[0]])
    # Relative image_files (as a generator may write) with path_anchor=None.
    update_mat(cub.res101_file, image_files=np.array(cub.rel_paths, dtype=object)[:, None])
    ds = build(cub, data_prefix='photos', path_anchor=None, split='test_unseen')
    assert ds.get_data_info(0)['img_path'] == osp.join(cub.root, 'photos', cub.rel_paths[rows[0]])


# ---------------------------------------------------------------- bad input
def test_unknown_split(trees):
    with pytest.raises(ValueError, match=r"unknown split 'testing'.*test_unseen"):
        build(trees['cub'], split='testing')


@pytest.mark.parametrize('name, arg', [('res101.mat', 'ann_file'),
                                       ('att_splits.mat', 'att_splits_file')])
def test_missing_mat_file(cub, name, arg):
    os.remove(osp.join(cub.root, name))
    with pytest.raises(FileNotFoundError, match=rf'{name} not found: .*{name} \(set by {arg}\)'):
        build(cub)


def test_missing_image_folder(cub):
    shutil.rmtree(osp.join(cub.root, 'images'))
    with pytest.raises(FileNotFoundError, match=r'image folder not found: .*images'):
        build(cub)


def test_missing_attribute_names_file(cub):
    os.remove(osp.join(cub.root, cub.names_file))
    with pytest.raises(FileNotFoundError, match='attributes.txt'):
        build(cub)


def test_listed_images_absent(cub):
    rows = cub.split_rows('trainval')
    gone = [cub.local_path(r) for r in rows[:7]]
    for path in gone:
        os.remove(path)
    with pytest.raises(Xlsa17FormatError) as err:
        build(cub, split='trainval')
    msg = str(err.value)
    assert "7 images of split 'trainval'" in msg and '... and 2 more' in msg
    assert all(p in msg for p in gone[:5]) and gone[5] not in msg
    # Other splits do not list those images and still load.
    assert len(build(cub, split='test_unseen')) == len(cub.split_rows('test_unseen'))


def test_paths_without_anchor(cub):
    with pytest.raises(Xlsa17FormatError, match=r"12 image_files .* cannot be mapped.*'photos/'"):
        build(cub, path_anchor='photos/', split='test')


def test_attribute_names_count_mismatch(cub):
    path = osp.join(cub.root, cub.names_file)
    lines = open(path).read().splitlines()
    with open(path, 'w') as f:
        f.write('\n'.join(lines[:-1]) + '\n')
    with pytest.raises(Xlsa17FormatError, match=r'attributes.txt has 11 names but att in .* '
                       r'has 12 attributes'):
        build(cub)


def test_wrong_attribute_dimension_for_the_benchmark(cub):
    # ZSLCUB's own expected counts: K must be 312 (the fixture has 12).
    with pytest.raises(Xlsa17FormatError, match=r'num_attributes: found 12 .*expected 312'):
        ZSLCUB(data_root=cub.root)
    with pytest.raises(Xlsa17FormatError, match=r'num_attributes: found 12 .*expected 13'):
        build(cub, expected_counts=dict(num_attributes=13))
    with pytest.raises(Xlsa17FormatError, match=r"test_seen: found 4 images in split "
                       r"'test_seen'.*expected 5"):
        build(cub, expected_counts=dict(test_seen=5))
    # AwA2's group table needs its 85 predicates.
    fx = write_xlsa17_fixture(osp.join(cub.root, 'awa2'), layout='awa2', num_attributes=20)
    with pytest.raises(ValueError, match='table has 85 attributes, the dataset has 20'):
        build(fx)


def test_att_with_wrong_shape(cub):
    update_mat(cub.att_splits_file, att=cub.att.T)  # C x K instead of K x C
    with pytest.raises(Xlsa17FormatError, match=r"'att' has shape \(6, 12\); expected K x 6"):
        build(cub)


def test_overlapping_seen_and_unseen(cub):
    tv = cub.locs['trainval_loc']
    update_mat(cub.att_splits_file,
               test_unseen_loc=np.concatenate([cub.locs['test_unseen_loc'], tv[:1]])[:, None] + 1)
    cls = int(cub.labels[tv[0]])
    with pytest.raises(Xlsa17FormatError, match=rf"1 class ids are both seen \(trainval_loc\) "
                       rf"and unseen \(test_unseen_loc\) .*\['{cls} \("):
        build(cub, expected_counts=None)


def test_missing_field_and_out_of_range_index(cub):
    update_mat(cub.att_splits_file, drop=['val_loc'])
    with pytest.raises(Xlsa17FormatError,
                       match=r"att_splits.mat: missing field\(s\) \['val_loc'\]"):
        build(cub)
    update_mat(cub.att_splits_file, val_loc=np.array([[1], [25]]))
    with pytest.raises(Xlsa17FormatError, match=r"'val_loc' ranges over \[1, 25\]; expected "
                       r'1-based rows .* in \[1, 24\]'):
        build(cub)


# ---------------------------------------------------------------- check mode and CLI
def test_check_mode_reports_everything(cub, capsys):
    report = ZSLCUB.check(data_root=cub.root, expected_counts=cub.expected_counts)
    assert report.ok, report.format()
    assert report.found['test'] == 12 and report.found['num_attributes'] == 12
    gone = [cub.local_path(r) for r in cub.split_rows('test_unseen')[:2]]
    for path in gone:
        os.remove(path)
    os.remove(osp.join(cub.root, cub.names_file))
    report = ZSLCUB.check(data_root=cub.root)  # the benchmark's counts
    assert not report.ok
    assert sorted(report.missing_images) == sorted(gone)
    text = '\n'.join(report.problems)
    assert 'missing attribute_names_file' in text and 'num_images: found 24' in text
    assert "'test_unseen': 2" in text
    check_dataset = load_tool('check_dataset')
    assert check_dataset.main(['ZSLCUB', '--data-root', cub.root]) == 1
    out = capsys.readouterr().out
    assert 'missing images: 2' in out and gone[0] in out and '<-- differs' in out
    assert check_dataset.main(['--config', osp.join(REPO, 'configs/_base_/datasets/zsl_sun.py'),
                               '--data-root', cub.root, '--attribute-names-file',
                               'att_splits.mat', '--no-expected-counts']) == 1
    capsys.readouterr()


def test_generic_class_is_easy_to_subclass(cub):
    class Tiny(ZSLXlsa17Dataset):
        def __init__(self, data_root=cub.root, attribute_names_file=None, **kwargs):
            super().__init__(data_root=data_root, attribute_names_file=attribute_names_file,
                             **kwargs)

    ds = Tiny(split='val')
    assert len(ds) == len(cub.locs['val_loc'])
    assert ds.metainfo['attribute_names'][:2] == ['attribute_0', 'attribute_1']
    assert Tiny.dataset_args()['data_root'] == cub.root
    assert Tiny.check().ok
    # Rows of class_attributes are unit vectors even when the file's att is not normalised.
    update_mat(cub.att_splits_file, att=cub.att * 3.0)
    np.testing.assert_allclose(np.linalg.norm(Tiny().metainfo['class_attributes'], axis=1), 1,
                               rtol=1e-6)


# ---------------------------------------------------------------- real pipelines
@pytest.mark.parametrize('layout', list(CLASSES))
def test_batch_through_config_pipeline(trees, layout):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpretrain.registry import MODELS

    fx = trees[layout]
    cfg = Config.fromfile(osp.join(REPO, f'configs/_base_/datasets/zsl_{layout}.py'))
    assert cfg.train_dataloader.dataset.type == CLASSES[layout].__name__
    assert cfg.train_pipeline[-1] == dict(type='PackInputs', algorithm_keys=['is_unseen'])
    init_default_scope('mmpretrain')
    preprocessor = MODELS.build(cfg.data_preprocessor)
    for key, split in (('train_dataloader', 'trainval'), ('test_dataloader', 'test')):
        loader_cfg = cfg[key].to_dict()
        loader_cfg.update(batch_size=12, num_workers=0, persistent_workers=False)
        loader_cfg['dataset'].update(data_root=fx.root, expected_counts=fx.expected_counts)
        loader = Runner.build_dataloader(loader_cfg, seed=0)
        batch = next(iter(loader))
        samples = batch['data_samples']
        assert len(batch['inputs']) == len(samples) == 12
        assert all(x.shape == (3, 224, 224) and x.dtype == torch.uint8 for x in batch['inputs'])
        labels = [int(s.gt_label) for s in samples]
        unseen = [bool(s.is_unseen) for s in samples]
        assert unseen == [lab in fx.unseen_classes for lab in labels]
        if split == 'test':  # not shuffled: test_seen then test_unseen
            assert labels == fx.labels[fx.split_rows('test')].tolist()
            assert sum(unseen) == len(fx.locs['test_unseen_loc'])
        else:
            assert sorted(labels) == sorted(fx.labels[fx.split_rows('trainval')].tolist())
            assert not any(unseen)
        out = preprocessor(batch, training=False)
        assert out['inputs'].shape == (12, 3, 224, 224) and out['inputs'].dtype == torch.float32
        assert abs(float(out['inputs'].mean())) < 3  # normalised, not raw 0..255
