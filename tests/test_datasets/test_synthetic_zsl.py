"""Tests of the synthetic ZSL generator (svip_mm.datasets.synthetic_zsl) and its CLI.

Datasets are generated tiny (5 images per class, 32 px, 2x supersampling) into tmp_path; the
class/split logic runs at full size, since it does not render anything.
"""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from svip_mm.datasets.synthetic_zsl import (ATTRIBUTES_FILE, META_FILE, PRESETS, _choose_classes,
                                            _SeenSetStats, ensure_synthetic_zsl,
                                            generate_synthetic_zsl, load_synthetic_meta,
                                            render_sample, resolve_params, split_report)
from repo import load_tool

TINY = dict(images_per_class=5, image_size=32, supersample=2, feature_dim=16)
LOC_KEYS = ('trainval_loc', 'train_loc', 'val_loc', 'test_seen_loc', 'test_unseen_loc')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """The tiny cluttered dataset and its clean twin (same seed)."""
    root = tmp_path_factory.mktemp('synth')
    return (generate_synthetic_zsl(root / 'clutter', **TINY),
            generate_synthetic_zsl(root / 'clean', clutter=False, **TINY))


def _files(root: Path):
    return sorted(p.relative_to(root) for p in root.rglob('*') if p.is_file())


def _load(root: Path):
    res = scipy.io.loadmat(str(root / 'res101.mat'))
    att = scipy.io.loadmat(str(root / 'att_splits.mat'))
    return res, att


def _cellstr(cell):
    return [str(np.asarray(c).reshape(-1)[0]) for c in cell.reshape(-1)]


def _class_ids(res, att, key):
    return set(np.unique(res['labels'][att[key].reshape(-1).astype(np.int64) - 1]).astype(int))


def _attr_groups(root: Path):
    lines = (root / ATTRIBUTES_FILE).read_text().splitlines()
    names = [line.split(' ', 1)[1] for line in lines]
    return names, [n.split('::', 1)[0] for n in names]


# ----------------------------------------------------------------------------------------------
def test_deterministic_byte_identical(tiny, tmp_path):
    clutter, _ = tiny
    again = generate_synthetic_zsl(tmp_path / 'again', **TINY)
    files = _files(clutter)
    assert files == _files(again)
    assert len([f for f in files if f.parts[0] == 'images']) == 40 * 5
    for rel in files:
        assert (clutter / rel).read_bytes() == (again / rel).read_bytes(), rel
    other = generate_synthetic_zsl(tmp_path / 'seed1', seed=1, **TINY)
    assert (other / 'att_splits.mat').read_bytes() != (clutter / 'att_splits.mat').read_bytes()


def test_workers_do_not_change_output(tiny, tmp_path):
    clutter, _ = tiny
    small = dict(TINY, images_per_class=2, test_seen_fraction=0.5)
    a = generate_synthetic_zsl(tmp_path / 'a', **small)
    b = generate_synthetic_zsl(tmp_path / 'b', workers=2, **small)
    for rel in _files(a):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_mat_layout_and_index_ranges(tiny):
    root, _ = tiny
    res, att = _load(root)
    assert {'image_files', 'labels', 'features'} <= set(res)
    assert {'allclasses_names', 'att', 'original_att', *LOC_KEYS} <= set(att)
    n, c = 40 * 5, 40
    names, groups = _attr_groups(root)
    k = len(names)
    assert k == 3 + 3 + 3 + 3
    assert res['image_files'].shape == (n, 1) and res['image_files'].dtype == object
    assert res['labels'].shape == (n, 1)
    assert res['features'].shape == (16, n) and res['features'].dtype == np.float32
    assert att['allclasses_names'].shape == (c, 1)
    assert att['att'].shape == (k, c) and att['original_att'].shape == (k, c)
    np.testing.assert_allclose(np.linalg.norm(att['att'], axis=0), 1.0)
    assert set(np.unique(att['original_att'])) == {0.0, 1.0}
    np.testing.assert_allclose(att['att'], att['original_att'] / np.linalg.norm(
        att['original_att'], axis=0))
    # one value per group per class
    for g in dict.fromkeys(groups):
        rows = [i for i, gg in enumerate(groups) if gg == g]
        assert (att['original_att'][rows].sum(axis=0) == 1).all(), g

    labels = res['labels'].reshape(-1)
    assert labels.min() == 1 and labels.max() == c and np.all(labels == np.round(labels))
    class_names = _cellstr(att['allclasses_names'])
    assert class_names == [f'{i:03d}.' + n.split('.', 1)[1] for i, n in
                           enumerate(class_names, start=1)]
    locs = {key: att[key].reshape(-1).astype(np.int64) for key in LOC_KEYS}
    for key, loc in locs.items():
        assert att[key].shape == (len(loc), 1), key
        assert loc.min() >= 1 and loc.max() <= n, key       # 1-based, in range
        assert len(np.unique(loc)) == len(loc), key
    assert sorted(locs['trainval_loc']) == sorted(np.r_[locs['train_loc'], locs['val_loc']])
    everything = np.r_[locs['trainval_loc'], locs['test_seen_loc'], locs['test_unseen_loc']]
    assert sorted(everything) == list(range(1, n + 1))     # a partition of all images
    seen, unseen = _class_ids(res, att, 'trainval_loc'), _class_ids(res, att, 'test_unseen_loc')
    assert len(seen) == 30 and len(unseen) == 10 and not seen & unseen
    assert _class_ids(res, att, 'test_seen_loc') == seen
    train, val = _class_ids(res, att, 'train_loc'), _class_ids(res, att, 'val_loc')
    assert not train & val and train | val == seen and len(val) == 10
    assert len(locs['test_seen_loc']) == 30 * 1                # round(0.2 * 5) per seen class
    assert sorted(unseen) != list(range(31, 41))                # unseen spread over the ids

    # authors'-style absolute paths; the part after 'images/' is the real relative path
    for path, label in zip(_cellstr(res['image_files']), labels):
        assert path.startswith('/BS/synthetic/images/')
        rel = path.split('images/', 1)[1]
        assert rel.split('/')[0] == class_names[int(label) - 1]
        assert (root / 'images' / rel).is_file() and (root / 'masks' / rel).is_file()


def test_attribute_names_file_and_tables(tiny):
    root, _ = tiny
    lines = (root / ATTRIBUTES_FILE).read_text().splitlines()
    assert lines[0] == '1 has_shape::circle'
    for i, line in enumerate(lines, start=1):
        idx, name = line.split(' ')
        assert int(idx) == i and name.startswith('has_') and '::' in name
        value = name.split('::')[1]
        assert value.isalpha() and value.islower()              # a real English word
    _, att = _load(root)
    table = json.loads((root / 'class_attributes.json').read_text())
    assert [c['name'] for c in table['classes']] == _cellstr(att['allclasses_names'])
    assert (root / 'classes.txt').read_text().splitlines()[0] == '1 ' + table['classes'][0]['name']
    for j, cls in enumerate(table['classes']):
        active = {table['attribute_names'][i] for i in np.flatnonzero(att['original_att'][:, j])}
        assert active == {f'has_{g}::{v}' for g, v in cls['attributes'].items()}
    meta = load_synthetic_meta(root)
    assert meta['params'] == resolve_params(**TINY)
    assert meta['counts']['images'] == 200 and meta['counts']['test_unseen_loc'] == 50


@pytest.mark.parametrize('preset,seed', [('default', 0), ('default', 1), ('default', 7),
                                         ('large', 3)])
def test_split_properties(preset, seed):
    """Disjoint combinations, full coverage by seen and by train classes, every group needed,
    no group predictable from the others within the seen classes."""
    p = resolve_params(preset, seed=seed)
    classes = _choose_classes(p)['classes']
    names = [f'has_{g}::{v}' for g, key in (('shape', 'shapes'), ('body_color', 'body_colors'),
                                            ('pattern', 'patterns'),
                                            ('head_color', 'head_colors')) for v in p[key]]
    att = np.zeros((len(names), len(classes)))
    for j, c in enumerate(classes):
        for g, v in c['attributes'].items():
            att[names.index(f'has_{g}::{v}'), j] = 1
    seen = [j for j, c in enumerate(classes) if c['split'] == 'seen']
    unseen = [j for j, c in enumerate(classes) if c['split'] == 'unseen']
    train = [j for j, c in enumerate(classes) if c['seen_subset'] == 'train']
    assert (len(seen), len(unseen)) == (p['n_seen'], p['n_unseen'])
    assert len({tuple(att[:, j]) for j in range(len(classes))}) == len(classes)
    report = split_report(att, names, unseen, seen)
    assert report['disjoint'] and report['uncovered'] == []
    assert (att[:, seen].sum(axis=1) >= p['min_seen_per_value']).all()
    assert (att[:, train].sum(axis=1) >= 1).all()
    groups = [n.split('::')[0] for n in names]
    for g in dict.fromkeys(groups):
        assert report['group_pairs'][g], g
        keep = [i for i, gg in enumerate(groups) if gg != g]
        reduced = {tuple(att[keep, j]) for j in unseen}
        assert len(reduced) < len(unseen), f'dropping {g} keeps all unseen classes apart'
    # the unseen classes use (nearly) the whole vocabulary, not a corner of it
    assert (att[:, unseen].sum(axis=1) > 0).mean() >= 0.75
    # shortcut measures of the seen set (a random set: lookup ~0.7-0.8 per group at the default
    # size, ~0.9 at the large one; dependence 0.2-0.7 nats)
    sizes = [len(p[key]) for key in ('shapes', 'body_colors', 'patterns', 'head_colors')]
    stats = _SeenSetStats([tuple(classes[j]['values']) for j in seen], sizes)
    assert max(stats.lookup()) <= 0.85 and stats.dependence() < 0.15
    for per_value in stats.values:            # balanced value frequencies
        assert max(per_value) - min(per_value) <= 2, per_value


def test_every_group_matters_on_disk(tiny):
    root, _ = tiny
    res, att = _load(root)
    names, groups = _attr_groups(root)
    unseen = sorted(i - 1 for i in _class_ids(res, att, 'test_unseen_loc'))
    for g in dict.fromkeys(groups):
        keep = [i for i, gg in enumerate(groups) if gg != g]
        cols = att['original_att'][keep][:, unseen].T
        assert len(np.unique(cols, axis=0)) < len(unseen), g


def test_masks_match_images(tiny):
    clutter, clean = tiny
    rels = sorted(p.relative_to(clutter / 'images') for p in (clutter / 'images').rglob('*.png'))
    fg_fraction, differs = [], 0
    for rel in rels[::7]:
        mask = Image.open(clutter / 'masks' / rel)
        assert mask.mode == 'L' and mask.size == (32, 32)
        m = np.asarray(mask)
        assert set(np.unique(m)) <= {0, 255}
        m = m > 0
        fg_fraction.append(m.mean())
        # masks do not depend on the clutter
        assert (clean / 'masks' / rel).read_bytes() == (clutter / 'masks' / rel).read_bytes()
        a = np.asarray(Image.open(clutter / 'images' / rel).convert('RGB')).astype(int)
        b = np.asarray(Image.open(clean / 'images' / rel).convert('RGB')).astype(int)
        assert a.shape == (32, 32, 3)
        # inside the mask (eroded by one pixel: edge pixels mix in the background) the object
        # is drawn over the clutter, so both variants agree there
        pad = np.pad(m, 1)
        inner = np.ones_like(m)
        for dy in range(3):
            for dx in range(3):
                inner &= pad[dy:dy + 32, dx:dx + 32]
        assert inner.any()
        assert (a[inner] == b[inner]).all(-1).mean() > 0.97, rel
        differs += int((np.abs(a - b).sum(-1)[~m] > 30).mean() > 0.02)
    assert 0.08 < np.mean(fg_fraction) < 0.5
    assert differs >= 0.8 * len(fg_fraction)   # clutter is really there outside the mask


def test_render_sample_matches_files(tiny):
    clutter, _ = tiny
    table = json.loads((clutter / 'class_attributes.json').read_text())
    cls = table['classes'][3]
    img, mask = render_sample(cls['attributes'], resolve_params(**TINY), (cls['id'], 2))
    rel = f"{cls['name']}/img_00002.png"
    np.testing.assert_array_equal(img, np.asarray(Image.open(clutter / 'images' / rel)))
    np.testing.assert_array_equal(mask, np.asarray(Image.open(clutter / 'masks' / rel)) > 0)


def test_clutter_switch_keeps_classes_and_split(tiny):
    clutter, clean = tiny
    for name in ('res101.mat', 'att_splits.mat', ATTRIBUTES_FILE, 'class_attributes.json',
                 'classes.txt'):
        assert (clutter / name).read_bytes() == (clean / name).read_bytes(), name
    a, b = load_synthetic_meta(clutter)['params'], load_synthetic_meta(clean)['params']
    assert {k for k in a if a[k] != b[k]} == {'clutter'}


def test_ensure_reuses_refuses_and_regenerates_on_request(tmp_path):
    small = dict(TINY, images_per_class=2, test_seen_fraction=0.5)
    out = tmp_path / 'ds'
    ensure_synthetic_zsl(out, **small)
    marker = out / META_FILE
    stamp = marker.stat().st_mtime_ns
    assert ensure_synthetic_zsl(out, **small) == out.absolute()
    assert marker.stat().st_mtime_ns == stamp                       # reused, not rewritten
    assert ensure_synthetic_zsl(out) == out.absolute()              # nothing given: read as is
    assert marker.stat().st_mtime_ns == stamp

    # other parameters: refused by default (the differences named), replaced only on request
    with pytest.raises(FileExistsError, match=r'seed: recorded 0, requested 5'):
        ensure_synthetic_zsl(out, seed=5, **small)
    assert marker.stat().st_mtime_ns == stamp
    out.chmod(0o750)
    ensure_synthetic_zsl(out, seed=5, on_mismatch='regenerate', **small)
    assert load_synthetic_meta(out)['params']['seed'] == 5
    assert len(list((out / 'images').rglob('*.png'))) == 80
    assert out.stat().st_mode & 0o777 == 0o750                      # a replaced folder's mode
    with pytest.raises(ValueError, match="on_mismatch='replace'"):
        ensure_synthetic_zsl(out, on_mismatch='replace')

    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('user data')
    for fn in (ensure_synthetic_zsl, generate_synthetic_zsl):
        with pytest.raises(FileExistsError, match='synthetic_zsl.json'):
            fn(foreign, **small)
    assert (foreign / 'keep.txt').read_text() == 'user data'
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith('.')] == []  # no temp left


def test_new_folder_gets_the_umask_permissions(tmp_path):
    """Not the 0700 of tempfile.mkdtemp: the dataset is shared like any other data."""
    old = os.umask(0o027)
    try:
        out = generate_synthetic_zsl(tmp_path / 'ds', **dict(TINY, images_per_class=2,
                                                             test_seen_fraction=0.5))
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o750
    assert (out / 'images').stat().st_mode & 0o777 == 0o750
    assert (out / META_FILE).stat().st_mode & 0o777 == 0o640


def test_missing_files_restored_identically(tiny, tmp_path):
    """Deleted images, masks, a whole class and the tables come back byte-identical; nothing
    else in the folder is touched."""
    clutter, _ = tiny
    out = tmp_path / 'copy'
    shutil.copytree(clutter, out)
    (out / 'notes.txt').write_text('user data')
    classes = sorted(p.name for p in (out / 'images').iterdir())
    lost = [f'images/{classes[0]}/img_00002.png', f'masks/{classes[1]}/img_00005.png',
            'att_splits.mat', 'res101.mat', ATTRIBUTES_FILE, 'class_attributes.json']
    for rel in lost:
        (out / rel).unlink()
    shutil.rmtree(out / 'masks' / classes[2])
    lost += [f'masks/{classes[2]}/img_{k:05d}.png' for k in range(1, 6)]
    kept = out / 'images' / classes[0] / 'img_00001.png'
    stamp, meta_stamp = kept.stat().st_mtime_ns, (out / META_FILE).stat().st_mtime_ns

    assert ensure_synthetic_zsl(out) == out.absolute()
    for rel in lost:
        assert (out / rel).read_bytes() == (clutter / rel).read_bytes(), rel
    assert _files(out) == sorted(_files(clutter) + [Path('notes.txt')])
    assert (out / 'notes.txt').read_text() == 'user data'
    assert kept.stat().st_mtime_ns == stamp                          # present files untouched
    assert (out / META_FILE).stat().st_mtime_ns == meta_stamp
    assert [p.name for p in tmp_path.rglob('.*')] == []               # no temporary files


def test_other_parameters_are_refused_not_replaced(tiny, tmp_path):
    clutter, _ = tiny
    out = tmp_path / 'copy'
    shutil.copytree(clutter, out)
    before = {rel: (out / rel).read_bytes() for rel in _files(out)}

    ensure_synthetic_zsl(out, image_size=32, preset='default', seed=0)   # agrees: used
    with pytest.raises(FileExistsError) as err:
        ensure_synthetic_zsl(out, images_per_class=64, supersample=4, seed=0, clutter=True)
    msg = str(err.value)
    assert str(out) in msg
    assert 'images_per_class: recorded 5, requested 64' in msg
    assert 'supersample: recorded 2, requested 4' in msg
    assert 'seed:' not in msg and 'clutter:' not in msg                  # these agree
    assert "on_mismatch='regenerate'" in msg and '--overwrite' in msg
    with pytest.raises(FileExistsError, match="preset: recorded 'default', requested 'large'"):
        ensure_synthetic_zsl(out, preset='large')
    with pytest.raises(ValueError, match='nonsense'):
        ensure_synthetic_zsl(out, nonsense=1)

    meta = json.loads((out / META_FILE).read_text())
    meta['params']['format_version'] = 1
    (out / META_FILE).write_text(json.dumps(meta))
    before[Path(META_FILE)] = (out / META_FILE).read_bytes()
    with pytest.raises(FileExistsError, match='format version 1.*writes version 2'):
        ensure_synthetic_zsl(out)
    assert {rel: (out / rel).read_bytes() for rel in _files(out)} == before


def test_regenerate_refuses_foreign_files(tiny, tmp_path):
    clutter, _ = tiny
    out = tmp_path / 'copy'
    shutil.copytree(clutter, out)
    (out / 'attribute_glove50.npy').write_bytes(b'vectors of the old attribute names')
    (out / 'images' / 'mine').mkdir()
    with pytest.raises(FileExistsError) as err:
        ensure_synthetic_zsl(out, seed=1, on_mismatch='regenerate', **TINY)
    assert 'attribute_glove50.npy' in str(err.value) and 'images/mine/' in str(err.value)
    with pytest.raises(FileExistsError, match='attribute_glove50.npy'):
        generate_synthetic_zsl(out, **TINY)
    assert _files(out) == sorted(_files(clutter) + [Path('attribute_glove50.npy')])
    assert load_synthetic_meta(out)['params']['seed'] == 0


def test_train_test_data_preparation_keeps_user_files(tmp_path):
    """What tools/train.py and tools/test.py run first: a deleted image is written again, a
    user's file in the folder survives, a dataset made with other parameters is used as it is
    by a config that does not give them and refused by one that does."""
    from mmengine.config import Config

    from svip_mm.engine import prepare_data

    root = tmp_path / 'synthetic'
    small = dict(images_per_class=2, test_seen_fraction=0.5, supersample=2, feature_dim=4)

    def cfg(**dataset):
        return Config(dict(data_preparation=[dict(type='synthetic_zsl')],
                           train_dataloader=dict(dataset=dict(type='ZSLSynthetic',
                                                              data_root=str(root), **dataset))))

    prepare_data(cfg(image_size=32, generator_overrides=small))
    assert root.stat().st_mode & 0o777 != 0o700
    victim = next((root / 'images').rglob('*.png'))
    original = victim.read_bytes()
    victim.unlink()
    (root / 'notes.txt').write_text('user data')
    prepare_data(cfg())                          # the default config: no generator parameters
    assert victim.read_bytes() == original
    assert (root / 'notes.txt').read_text() == 'user data'
    assert load_synthetic_meta(root)['params']['images_per_class'] == 2
    with pytest.raises(FileExistsError, match='image_size: recorded 32, requested 64'):
        prepare_data(cfg(image_size=64))
    assert (root / 'notes.txt').read_text() == 'user data'
    assert load_synthetic_meta(root)['params']['image_size'] == 32


@pytest.mark.parametrize('kwargs,match', [
    (dict(preset='huge'), "preset='huge'"),
    (dict(colour='red'), r"\['colour'\]"),
    (dict(n_unseen=3), 'n_unseen=3: expected at least 5'),
    (dict(shapes=['circle', 'hexagon']), "unknown: \\['hexagon'\\]"),
    (dict(image_size=8), 'image_size=8'),
    (dict(object_scale=[0.3, 0.1]), r'object_scale=\[0.3, 0.1\]'),
    (dict(n_seen=60, n_unseen=30), "only has 81 combinations"),
    (dict(images_per_class=2, test_seen_fraction=0.1), 'holds out 0 images'),
    (dict(seed=-1), 'seed=-1'),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resolve_params(**kwargs)


def test_presets_sizes():
    d, big = resolve_params('default'), resolve_params('large')
    assert (d['n_seen'], d['n_unseen'], d['image_size']) == (30, 10, 64)
    assert 2000 <= (d['n_seen'] + d['n_unseen']) * d['images_per_class'] <= 3000
    assert (big['n_seen'] + big['n_unseen']) * big['images_per_class'] > 3000
    assert set(PRESETS) == {'default', 'large', 'source'}


def test_cli(tmp_path, capsys):
    tool = load_tool('make_synthetic_zsl')
    out = tmp_path / 'cli'
    args = ['--out', str(out), '--image-size', '32', '--no-clutter', '--images-per-class', '2',
            '--set', 'test_seen_fraction=0.5', '--set', 'supersample=2', '--workers', '1']
    assert tool.main(args) == 0
    assert '40 classes (30 seen / 10 unseen)' in capsys.readouterr().out
    meta = load_synthetic_meta(out)
    assert meta['params']['clutter'] is False and meta['params']['images_per_class'] == 2
    assert tool.main(['--out', str(out), '--set', 'nonsense=1']) == 2
    assert 'nonsense' in capsys.readouterr().err

    # the command line describes the whole dataset: other values are refused, not replaced
    stamp = (out / META_FILE).stat().st_mtime_ns
    assert tool.main(args[:-4] + ['--workers', '1']) == 2       # supersample at its default
    err = capsys.readouterr().err
    assert 'supersample: recorded 2, requested 4' in err and '--overwrite' in err
    assert (out / META_FILE).stat().st_mtime_ns == stamp
    (out / 'notes.txt').write_text('user data')
    other = args + ['--seed', '1']
    assert tool.main(other + ['--overwrite']) == 2               # a foreign file: refused
    assert 'notes.txt' in capsys.readouterr().err
    (out / 'notes.txt').unlink()
    assert tool.main(other + ['--overwrite']) == 0
    assert load_synthetic_meta(out)['params']['seed'] == 1


# ----------------------------------------------------------------------------------------------
# ZSLSynthetic: generated on first use, read through the generic xlsa17 dataset
# ----------------------------------------------------------------------------------------------
def test_zsl_synthetic_dataset(tmp_path):
    from svip_mm.datasets import synthetic_dataset
    from mmengine.dataset import pseudo_collate
    from mmpretrain.registry import DATASETS

    root = tmp_path / 'synthetic'
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='PackInputs', meta_keys=('img_path', 'fg_mask_path', 'is_unseen'))]
    cfg = dict(type='ZSLSynthetic', data_root=str(root), image_size=32,
               generator_overrides=dict(images_per_class=5, supersample=2, feature_dim=4),
               pipeline=pipeline)
    sizes = {}
    for split in ('trainval', 'train', 'val', 'test_seen', 'test_unseen', 'test'):
        ds = DATASETS.build(dict(cfg, split=split))
        sizes[split] = len(ds)
        if split == 'trainval':
            stamp = (root / META_FILE).stat().st_mtime_ns
    assert (root / META_FILE).stat().st_mtime_ns == stamp       # generated once, then reused
    assert sizes == dict(trainval=120, train=80, val=40, test_seen=30, test_unseen=50, test=80)

    meta = ds.metainfo
    assert len(meta['classes']) == 40 and len(meta['unseen_classes']) == 10
    assert [g for g, _ in meta['attribute_groups']] == ['has_shape', 'has_body_color',
                                                       'has_pattern', 'has_head_color']
    assert meta["class_attributes"].shape == (40, 12)
    for info in (ds.get_data_info(i) for i in range(len(ds))):
        assert Path(info['fg_mask_path']).is_file()
        assert info['fg_mask_path'].replace('/masks/', '/images/') == info['img_path']
    unseen = [ds.get_data_info(i)['is_unseen'] for i in range(len(ds))]
    assert sum(unseen) == 50

    batch = pseudo_collate([ds[i] for i in (0, 45)])
    assert batch['inputs'][0].shape == (3, 32, 32)
    sample = batch['data_samples'][1]
    assert Path(sample.fg_mask_path).is_file() and sample.is_unseen
    mask = np.asarray(Image.open(sample.fg_mask_path))
    assert mask.shape == (32, 32)

    assert synthetic_dataset.default_synthetic_root() == 'data/synthetic_zsl'
    assert synthetic_dataset.default_synthetic_root('large', 3, False) == \
        'data/synthetic_zsl_large_seed3_clean'
