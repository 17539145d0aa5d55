"""Training machinery on the real Runner: two-phase lr, NaN guard, --amp on the CPU."""

import pytest
import torch
from mmengine.runner import Runner

import svip_mm  # noqa: F401
from svip_mm.engine import TwoPhaseScheduleHook, prepare_data

from repo import load_tool
from tiny_config import tiny_cfg

train_tool = load_tool('train')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    base = tmp_path_factory.mktemp('engine')
    prepare_data(tiny_cfg(base / 'data', base / 'w', 1))
    return base


def test_two_phase_learning_rates():
    hook = TwoPhaseScheduleHook(phase1_epochs=4, phase1_lr=5e-5, lr=3e-5, step_epochs=5,
                                gamma=0.8)
    assert [hook.lr_for('new', e) for e in (0, 3)] == [5e-5, 5e-5]
    assert [hook.lr_for('pretrained', e) for e in (0, 3)] == [0.0, 0.0]
    assert hook.lr_for('pretrained', 4) == pytest.approx(3e-5)
    assert hook.lr_for('new', 5) == pytest.approx(3e-5 * 0.8)
    assert hook.lr_for('new', 29) == pytest.approx(3e-5 * 0.8**5)
    with pytest.raises(ValueError, match='phase1_epochs must be >= 0'):
        TwoPhaseScheduleHook(phase1_epochs=-1, phase1_lr=1, lr=1)


def test_phase_two_lr_is_the_optimizers_and_survives_resume(data_root, tmp_path):
    """--cfg-options optim_wrapper.optimizer.lr sets phase 2's base lr; after --resume the
    base is still the configured one, not the decayed lr stored in the checkpoint."""
    cfg_file = tmp_path / 'tiny.py'
    cfg = tiny_cfg(data_root / 'data', tmp_path / 'w', 2)
    cfg.default_hooks.two_phase_schedule.update(phase1_epochs=1, step_epochs=1, gamma=0.5)
    cfg.dump(str(cfg_file))
    lr = 2e-3  # not the config's
    args = train_tool.parse_args([str(cfg_file), '--work-dir', str(tmp_path / 'w'),
                                  '--cfg-options', f'optim_wrapper.optimizer.lr={lr}'])
    runner = Runner.from_cfg(train_tool.build_cfg(args))
    runner.train()
    assert runner.optim_wrapper.get_lr()['lr'] == pytest.approx([lr * 0.5] * 2)  # epoch 1
    args = train_tool.parse_args([str(cfg_file), '--work-dir', str(tmp_path / 'w'), '--resume',
                                  '--cfg-options', f'optim_wrapper.optimizer.lr={lr}',
                                  'train_cfg.max_epochs=3'])
    runner = Runner.from_cfg(train_tool.build_cfg(args))
    runner.train()
    assert runner.epoch == 3
    assert runner.optim_wrapper.get_lr()['lr'] == pytest.approx([lr * 0.25] * 2)  # epoch 2


def test_a_hook_lr_that_disagrees_with_the_optimizer_is_an_error(data_root, tmp_path):
    cfg = tiny_cfg(data_root / 'data', tmp_path / 'w', 1)
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.default_hooks.two_phase_schedule.lr = 5e-4
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'lr=0\.0005\).*optimizer lr 0\.001.*'
                       r'optim_wrapper\.optimizer\.lr'):
        runner.train()
    assert not list((tmp_path / 'w').glob('epoch_*.pth'))
    cfg.default_hooks.two_phase_schedule.lr = 1e-3  # agreeing values are accepted
    runner = Runner.from_cfg(cfg)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    hook = [h for h in runner.hooks if isinstance(h, TwoPhaseScheduleHook)][0]
    hook.before_run(runner)
    assert hook.lr_for('pretrained', 1) == 1e-3


def test_phase_one_leaves_the_backbone_untouched(data_root):
    cfg = tiny_cfg(data_root / 'data', data_root / 'w_phase', 1)
    cfg.default_hooks.two_phase_schedule.update(phase1_epochs=1)
    runner = Runner.from_cfg(cfg)
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    runner.train()
    after = runner.model.state_dict()
    assert torch.equal(before['backbone.blocks.0.attn.qkv.weight'],
                       after['backbone.blocks.0.attn.qkv.weight'])
    assert not torch.equal(before['head.fc.weight'], after['head.fc.weight'])
    assert not torch.equal(before['neck.selector.0.weight'], after['neck.selector.0.weight'])


def test_a_nan_loss_term_stops_training_and_names_it(data_root):
    cfg = tiny_cfg(data_root / 'data', data_root / 'w_nan', 1)
    cfg.model.neck.loss.loss_weight = float('nan')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FloatingPointError, match=r"'loss_selector' is nan at iteration 1 .*"
                                                 r"No checkpoint has been written"):
        runner.train()
    assert not list((data_root / 'w_nan').glob('epoch_*.pth'))


def test_amp_trains_in_bf16_on_the_cpu(data_root, tmp_path):
    cfg_file = tmp_path / 'tiny.py'
    tiny_cfg(data_root / 'data', tmp_path / 'w', 1).dump(str(cfg_file))
    args = train_tool.parse_args([str(cfg_file), '--amp', '--work-dir', str(tmp_path / 'w')])
    cfg = train_tool.build_cfg(args)
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert (tmp_path / 'w' / 'epoch_1.pth').is_file()
    seen = []
    handle = runner.model.backbone.blocks[0].mlp.fc1.register_forward_hook(
        lambda m, i, o: seen.append(o.dtype))
    with runner.optim_wrapper.optim_context(runner.model):
        runner.model.backbone(torch.randn(1, 3, 64, 64))
    handle.remove()
    assert seen == [torch.bfloat16]
