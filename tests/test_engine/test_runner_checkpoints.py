"""The MMEngine Runner end to end on a tiny synthetic set: train, resume, load_from + test.

Checks that the checkpoints (message hub, numpy dataset metainfo, optimizer state) load under
torch's default ``weights_only=True``, and come back as MMEngine wrote them through svip_mm's
loader.
"""
import copy

import pytest
import torch
from mmengine.runner import Runner

import svip_mm  # noqa: F401
from svip_mm.engine import prepare_data
from svip_mm.utils import load_checkpoint_file
from tiny_config import tiny_cfg

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp('runner')
    cfg = tiny_cfg(base / 'data', base / 'work', epochs=2)
    prepare_data(cfg)
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    runner.train()
    return base, cfg


def test_checkpoint_loads_with_the_safe_unpickler(trained):
    base, _ = trained
    ckpt = torch.load(base / 'work/epoch_2.pth', map_location='cpu', weights_only=True)
    assert ckpt['meta']['epoch'] == 2 and 'message_hub' in ckpt and 'optimizer' in ckpt
    ckpt = load_checkpoint_file(base / 'work/epoch_2.pth')
    assert ckpt['meta']['dataset_meta']['class_attributes'].shape == (40, 12)
    assert ckpt['state_dict']['head.seen_mask'].sum() == 30


def test_resume_continues_from_the_last_checkpoint(trained):
    base, cfg = trained
    cfg = copy.deepcopy(cfg)
    cfg.train_cfg.max_epochs = 3
    cfg.resume = True  # load_from None: the last checkpoint of the work dir
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 3 and (base / 'work/epoch_3.pth').is_file()
    lrs = [g['lr'] for g in runner.optim_wrapper.optimizer.param_groups]
    assert lrs == [5e-4, 5e-4]  # phase 2 of the two-phase schedule


def test_load_from_and_test(trained):
    base, cfg = trained
    cfg = copy.deepcopy(cfg)
    cfg.load_from = str(base / 'work/epoch_2.pth')
    cfg.work_dir = str(base / 'work_test')
    metrics = Runner.from_cfg(cfg).test()
    assert {'zsl/top1', 'gzsl/U', 'gzsl/S', 'gzsl/H'} <= set(metrics)
    assert 0.0 <= metrics['gzsl/H'] <= 100.0
