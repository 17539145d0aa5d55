"""Kill a run in the middle of an epoch, --resume auto, and end with the same weights (with the
default job's data-loader workers)."""
import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import torch
from mmengine.config import Config
from repo import REPO
from tiny_config import tiny_cfg
from torch.utils.data import DataLoader

from svip_mm.engine import EpochSeedHook, prepare_data

HELPERS = REPO / 'tests' / 'helpers'


def _train(cfg_file, work_dir, *extra):
    env = dict(os.environ, PYTHONPATH=str(HELPERS), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, str(REPO / 'tools/train.py'), str(cfg_file),
                           '--work-dir', str(work_dir), '--no-test', *extra],
                          env=env, capture_output=True, text=True, timeout=600)


def test_killed_run_resumes_to_identical_weights(tmp_path):
    cfg = tiny_cfg(tmp_path / 'data', tmp_path / 'unused', epochs=3)
    cfg.model.backbone.drop_path_rate = 0.1  # randomness that must repeat after resuming
    # the default job's data-loader workers, whose random flips must repeat as well
    default = Config.fromfile(str(REPO / 'configs/svip_vit_synthetic.py'),
                              import_custom_modules=False).train_dataloader
    assert default.num_workers > 0
    cfg.train_dataloader.update(num_workers=default.num_workers,
                                persistent_workers=default.persistent_workers)
    prepare_data(cfg)
    iters_per_epoch = 5  # 150 trainval images / batch 32
    plain = tmp_path / 'plain.py'
    cfg.dump(str(plain))
    killed = tmp_path / 'killed.py'
    cfg.custom_imports.imports.append('kill_hook')
    cfg.custom_hooks.append(dict(type='KillAtIterationHook', iteration=iters_per_epoch + 3))
    cfg.dump(str(killed))

    reference = _train(plain, tmp_path / 'ref')
    assert reference.returncode == 0, reference.stderr[-2000:]
    first = _train(killed, tmp_path / 'resumed')
    assert first.returncode != 0  # SIGKILL in epoch 2
    assert (tmp_path / 'resumed/epoch_1.pth').is_file()
    assert not (tmp_path / 'resumed/epoch_2.pth').exists()
    second = _train(plain, tmp_path / 'resumed', '--resume')
    assert second.returncode == 0, second.stderr[-2000:]
    assert 'resumed' in (second.stdout + second.stderr).lower()

    ref = torch.load(tmp_path / 'ref/epoch_3.pth', weights_only=True)['state_dict']
    res = torch.load(tmp_path / 'resumed/epoch_3.pth', weights_only=True)['state_dict']
    assert ref.keys() == res.keys()
    for key in ref:
        assert torch.equal(ref[key], res[key]), key


def test_epoch_seed_hook_warns_that_persistent_workers_break_exact_resume():
    for workers, persistent, warned in ((2, True, True), (2, False, False), (0, False, False)):
        records = []
        runner = SimpleNamespace(
            train_dataloader=DataLoader(range(4), num_workers=workers,
                                        persistent_workers=persistent),
            logger=SimpleNamespace(log=lambda level, msg: records.append((level, msg))))
        EpochSeedHook().before_train(runner)
        assert [level for level, _ in records] == ([logging.WARNING] if warned else [])
        if warned:
            assert 'persistent_workers=False' in records[0][1]
