"""Every experiment config parses, builds its model, and carries the hyperparameters of
docs/method.md, section 6."""

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import svip_mm  # noqa: F401
from repo import REPO


# docs/method.md, section 6: K, keep k, classes, epochs, phase 1 (epochs, lr), phase 2 lr,
# Adam beta1, selector BCE weight, decorrelation weight (official value applied twice)
SPEC = {
    'cub': (312, 40, 200, 30, 4, 5e-5, 3e-5, 0.5, 3.0, 0.3 * 0.3),
    'awa2': (85, 45, 50, 30, 6, 1e-6, 3e-6, 0.8, 4.0, 1.0 * 1.0),
    'sun': (102, 45, 717, 50, 4, 1e-4, 1e-5, 0.5, 3.0, 0.3 * 0.3),
}


@pytest.mark.parametrize('name', sorted(SPEC))
def test_real_dataset_configs_follow_the_official_schedule(name, tmp_path):
    k, keep, classes, epochs, p1_epochs, p1_lr, lr, beta1, bce, decor = SPEC[name]
    cfg = Config.fromfile(str(REPO / f'configs/svip_vit_{name}.py'))
    assert cfg.model.neck.num_attributes == cfg.model.head.num_attributes == k
    assert cfg.model.neck.keep_k == keep and cfg.model.head.num_classes == classes
    assert cfg.train_cfg.max_epochs == epochs
    hook = cfg.default_hooks.two_phase_schedule
    assert hook.type == 'TwoPhaseScheduleHook'
    assert (hook.phase1_epochs, hook.phase1_lr) == (p1_epochs, p1_lr)
    # phase 2's lr is the optimizer's (TwoPhaseScheduleHook reads it): stated once
    assert 'lr' not in hook and cfg.optim_wrapper.optimizer.lr == lr
    assert (hook.step_epochs, hook.gamma) == (5, 0.8)
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'Adam' and opt.betas == (beta1, 0.999) and opt.weight_decay == 0
    assert cfg.optim_wrapper.clip_grad.max_norm == 1.0
    assert cfg.model.neck.loss.loss_weight == bce
    assert cfg.model.head.decorrelation.loss_weight == pytest.approx(decor)
    assert cfg.train_dataloader.sampler.shuffle is True
    assert cfg.val_dataloader is None  # never select checkpoints on the test split
    assert cfg.test_dataloader.dataset.split == 'test'
    np.save(tmp_path / 'w.npy', np.zeros((k, 300), dtype=np.float32))
    cfg.model.neck.word_vectors = str(tmp_path / 'w.npy')
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert model.backbone.grid_size == (14, 14) and model.neck.keep_k == keep


def test_default_synthetic_config_builds(tmp_path):
    cfg = Config.fromfile(str(REPO / 'configs/svip_vit_synthetic.py'))
    assert cfg.train_dataloader.dataset.type == 'ZSLSynthetic'
    assert [s['type'] for s in cfg.data_preparation] == ['synthetic_zsl', 'attribute_embeddings']
    np.save(tmp_path / 'w.npy', np.zeros((cfg.model.neck.num_attributes, 50), dtype=np.float32))
    cfg.model.neck.word_vectors = str(tmp_path / 'w.npy')
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert model.neck.num_units(model.backbone.grid_size) > model.neck.keep_k


def test_baseline_config_is_plain_mmpretrain_plus_the_attribute_head():
    cfg = Config.fromfile(str(REPO / 'configs/baseline_vit_synthetic.py'))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'ImageClassifier'
    assert type(model.backbone).__module__.startswith('mmpretrain.')
    assert type(model.head).__name__ == 'SemanticAttributeHead'
    svip = Config.fromfile(str(REPO / 'configs/svip_vit_synthetic.py'))
    assert cfg.train_cfg == svip.train_cfg and cfg.optim_wrapper == svip.optim_wrapper
    hooks = {k: v for k, v in cfg.default_hooks.items() if k != 'visualization'}
    assert hooks == {k: v for k, v in svip.default_hooks.items() if k != 'visualization'}
