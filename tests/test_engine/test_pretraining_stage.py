"""The pretraining stage (issue 12, section 2): the ``source`` preset, the pretraining config,
the ``pretrained_backbone`` data-preparation step and the configs that start from its file.

The step is run as a user's config runs it (``prepare_data``, which starts ``tools/train.py``
in a subprocess), on a shrunken pretraining config: a 1-layer 32-d ViT, a few source classes,
5 images per class, 1 epoch, one thread.
"""
import os
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from repo import REPO

from svip_mm.datasets.synthetic_zsl import (KNOWN_PATTERNS, KNOWN_SHAPES, PALETTE_HSV, PRESETS,
                                            resolve_params)
from svip_mm.engine import prepare_data
from svip_mm.utils import load_checkpoint_file

PRETRAIN_CONFIG = REPO / 'configs/pretrain/vit_synthetic_source.py'
TINY_SOURCE = dict(images_per_class=5, n_seen=12, n_unseen=5, n_val=4)
TINY_CLASSES = TINY_SOURCE['n_seen'] + TINY_SOURCE['n_unseen']
TINY_ARCH = dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64)


def _tiny_pretrain_config(base: Path) -> Path:
    """The pretraining config shrunk: data under ``base/source``, tiny ViT, 1 epoch."""
    text = f"""
_base_ = [{str(PRETRAIN_CONFIG)!r}]
_data = dict(data_root={str(base / 'source')!r}, generator_overrides={TINY_SOURCE!r})
train_dataloader = dict(batch_size=16, num_workers=0, dataset=_data)
val_dataloader = dict(num_workers=0, dataset=_data)
data_preprocessor = dict(num_classes={TINY_CLASSES})
model = dict(backbone=dict(arch={TINY_ARCH!r}), head=dict(num_classes={TINY_CLASSES},
             in_channels=32))
train_cfg = dict(max_epochs=1, val_interval=1)
"""
    path = base / 'tiny_pretrain.py'
    path.write_text(text)
    return path


def _main_cfg(config: Path, out: Path, work_dir: Path, seed: int = 0, **extra) -> Config:
    step = dict(type='pretrained_backbone', config=str(config), out=str(out), seed=seed,
                work_dir=str(work_dir), **extra)
    return Config(dict(data_preparation=[step]))


def _weights(path: Path):
    obj = load_checkpoint_file(str(path), map_location='cpu')
    return obj['state_dict'], obj['meta']


def _same_tensors(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope='module')
def stage(tmp_path_factory):
    """One pretraining run through prepare_data: (base dir, config, out, work dir)."""
    base = tmp_path_factory.mktemp('pretrain')
    config = _tiny_pretrain_config(base)
    out, work = base / 'weights' / 'backbone.pth', base / 'work'
    mp = pytest.MonkeyPatch()
    mp.setenv('OMP_NUM_THREADS', '1')  # the subprocess: deterministic and light on the CPUs
    mp.chdir(base)
    try:
        assert prepare_data(_main_cfg(config, out, work)) == [str(out)]
        yield base, config, out, work
    finally:
        mp.undo()


def test_backbone_file_loads_into_both_vits(stage):
    from mmpretrain.registry import MODELS

    from svip_mm.models.backbones.vit_checkpoint import to_timm_vit_keys
    _, _, out, _ = stage
    state, meta = _weights(out)
    assert state and not any(k.startswith('backbone.') for k in state)
    assert meta['seed'] == 0 and meta['epoch'] == 1 and len(meta['digest']) == 64
    assert meta['source_data']['params']['preset'] == 'source'

    # mmpretrain's VisionTransformer, through MMEngine's (non-strict) Pretrained init
    vit_cfg = dict(type='VisionTransformer', arch=TINY_ARCH, img_size=64, patch_size=8,
                   out_type='featmap')
    vit = MODELS.build(dict(vit_cfg, init_cfg=dict(type='Pretrained', checkpoint=str(out))))
    assert not _same_tensors(vit.state_dict(), state)  # before loading: other weights
    vit.init_weights()
    assert _same_tensors(vit.state_dict(), state), 'mmpretrain ViT: weights not all loaded'

    # svip_mm's SVIPVisionTransformer (timm names), through its own Pretrained loading
    svip_arch = dict(embed_dims=32, num_layers=1, num_heads=2, mlp_ratio=2.0, patch_size=8,
                     img_size=64)
    svip = MODELS.build(dict(type='SVIPVisionTransformer', arch=svip_arch,
                             init_cfg=dict(type='Pretrained', checkpoint=str(out))))
    expected = to_timm_vit_keys(dict(state))
    assert not _same_tensors(svip.state_dict(), expected)
    svip.init_weights()
    assert _same_tensors(svip.state_dict(), expected), 'SVIP ViT: weights not all loaded'


def test_second_prepare_data_reuses_the_file(stage, monkeypatch):
    base, config, out, work = stage
    monkeypatch.chdir(base)
    before = (out.stat().st_mtime_ns, out.read_bytes(), sorted(os.listdir(work)))
    assert len(before[2]) == 1  # the one run
    prepare_data(_main_cfg(config, out, work))
    assert (out.stat().st_mtime_ns, out.read_bytes(), sorted(os.listdir(work))) == before


def test_seed_and_config_changes_regenerate_and_runs_are_deterministic(stage, monkeypatch):
    base, config, out, work = stage
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.chdir(base)
    first, first_meta = _weights(out)

    # a fresh run of the same config and seed elsewhere: the same weights
    again, fresh_work = base / 'again' / 'backbone.pth', base / 'work_again'
    prepare_data(_main_cfg(config, again, fresh_work))
    second, second_meta = _weights(again)
    assert second_meta['digest'] == first_meta['digest']
    assert _same_tensors(first, second), 'two runs with the same seed gave other weights'

    # the file lost, its run kept: taken again from the run's final checkpoint, no training
    runs = sorted(os.listdir(fresh_work))
    run_files = sorted(os.listdir(fresh_work / runs[0]))
    again.unlink()
    prepare_data(_main_cfg(config, again, fresh_work))
    assert _same_tensors(_weights(again)[0], first)
    assert sorted(os.listdir(fresh_work)) == runs
    assert sorted(os.listdir(fresh_work / runs[0])) == run_files  # no new log folder

    # another seed: the step's own file is replaced, in a new run dir
    prepare_data(_main_cfg(config, out, work, seed=1))
    seed1, seed1_meta = _weights(out)
    assert seed1_meta['seed'] == 1 and seed1_meta['digest'] != first_meta['digest']
    assert not _same_tensors(first, seed1)
    assert len(os.listdir(work)) == 2

    # another config (an option of the pretraining config): replaced again
    prepare_data(_main_cfg(config, again, fresh_work,
                           cfg_options={'optim_wrapper.optimizer.lr': 2e-3}))
    changed, changed_meta = _weights(again)
    assert changed_meta['digest'] not in (first_meta['digest'], seed1_meta['digest'])
    assert changed_meta['cfg_options'] == ['optim_wrapper.optimizer.lr=0.002']
    assert not _same_tensors(first, changed)


def test_a_foreign_file_at_out_is_refused_and_kept(stage, tmp_path, monkeypatch):
    _, config, _, _ = stage
    monkeypatch.chdir(tmp_path)
    work = tmp_path / 'work'
    user_file = tmp_path / 'mine.pth'
    user_file.write_bytes(b'my own notes, not a checkpoint')
    other_ckpt = tmp_path / 'other.pth'  # a real checkpoint, but not this step's
    torch.save(dict(state_dict={'w': torch.ones(2)}, meta=dict(epoch=3)), other_ckpt)
    for path in (user_file, other_ckpt):
        content = path.read_bytes()
        with pytest.raises(FileExistsError, match='not written by this step'):
            prepare_data(_main_cfg(config, path, work))
        assert path.read_bytes() == content
    assert not work.exists()  # nothing ran


def test_bad_step_keys_are_named():
    cfg = Config(dict(data_preparation=[dict(type='pretrained_backbone', config='x.py')]))
    with pytest.raises(ValueError, match=r"missing keys \['out'\]"):
        prepare_data(cfg)


def test_source_preset_shares_no_class_value_with_the_target():
    source, target = PRESETS['source'], PRESETS['default']
    for key in ('shapes', 'body_colors', 'head_colors'):
        assert not set(source[key]) & set(target[key]), key
    # the generator knows four patterns and the target uses three: at most one can be new;
    # disjoint shapes already keep every target class (seen or unseen) out of the source
    assert set(source['patterns']) - set(target['patterns']) == {'checkered'}
    assert set(source['shapes']) <= set(KNOWN_SHAPES)
    assert set(source['body_colors']) | set(source['head_colors']) <= set(PALETTE_HSV)
    assert set(source['patterns']) <= set(KNOWN_PATTERNS)
    p = resolve_params('source')  # validates the preset
    assert (p['n_seen'], p['n_unseen']) == (50, 10)  # the 50 + 10 classes
    assert (p['n_seen'] + p['n_unseen']) * p['images_per_class'] == 3840
    assert p['clutter'] is True


def test_configs_wire_the_step_to_the_backbone():
    pre = Config.fromfile(str(PRETRAIN_CONFIG))
    ds = pre.train_dataloader.dataset
    assert (ds.type, ds.preset, ds.split) == ('ZSLSynthetic', 'source', 'trainval')
    n_classes = PRESETS['source']['n_seen'] + PRESETS['source']['n_unseen']
    assert pre.model.head.num_classes == n_classes  # gt_label is the global class id
    for name in ('svip', 'baseline'):
        cfg = Config.fromfile(str(REPO / f'configs/pretrained/{name}_vit_synthetic_pretrained.py'))
        step = cfg.data_preparation[0]
        assert step.type == 'pretrained_backbone'
        assert (REPO / step.config).resolve() == PRETRAIN_CONFIG.resolve()
        assert cfg.model.backbone.init_cfg == dict(type='Pretrained', checkpoint=step.out)
        hook = cfg.default_hooks.two_phase_schedule
        assert hook.type == 'TwoPhaseScheduleHook' and hook.phase1_epochs > 0
        default = Config.fromfile(str(REPO / f'configs/{name}_vit_synthetic.py'))
        assert cfg.data_preparation[1:] == default.data_preparation


def test_baseline_groups_split_head_from_pretrained_backbone():
    """Phase 1 of the two-phase schedule holds the pretrained ViT of the mmpretrain
    ImageClassifier at lr 0: its backbone must be in the 'pretrained' group."""
    from mmpretrain.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    cfg = Config.fromfile(str(REPO / 'configs/pretrained/baseline_vit_synthetic_pretrained.py'))
    model = MODELS.build(cfg.model)  # no init_weights: the file need not exist
    wrapper_cfg = dict(cfg.optim_wrapper)
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(type=wrapper_cfg.pop('constructor'),
                                                        optim_wrapper_cfg=wrapper_cfg))
    groups = {g['group_name']: {id(p) for p in g['params']}
              for g in constructor(model).optimizer.param_groups}
    assert groups['pretrained'] == {id(p) for p in model.backbone.parameters()}
    assert groups['new'] == {id(p) for p in model.head.parameters()}
