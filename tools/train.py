#!/usr/bin/env python
"""Train a model from a config with the MMEngine Runner (mmpretrain's command line).

    python tools/train.py configs/svip_vit_synthetic.py [--work-dir DIR] [--resume [CKPT]]
        [--amp] [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

Before the Runner is built, the run takes the work dir's lock and is refused if it would
overwrite checkpoints it did not write, or resume from a damaged one (then nothing in the work
dir has changed); then the config's ``data_preparation`` steps run (generate the synthetic
data, extract word vectors). After training, the test set is evaluated when the
config has a ``test_evaluator`` (``--no-test`` skips it).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import get_rank  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import svip_mm  # noqa: E402,F401
from svip_mm.engine import init_distributed, prepare_data  # noqa: E402
from svip_mm.engine.checkpoint_hook import (CheckpointMismatchError,  # noqa: E402
                                            CheckpointOverwriteError, check_run_start)
from svip_mm.engine.latest_checkpoint import latest_checkpoint  # noqa: E402
from svip_mm.engine.work_dir_lock import WorkDirLockedError, lock_work_dir  # noqa: E402
from svip_mm.utils.safe_checkpoint import CheckpointReadError  # noqa: E402
from svip_mm.engine.tool_config import load_tool_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train an svip_mm / mmpretrain model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from CKPT, or without a value from the latest checkpoint '
                        'in the work dir (the one last_checkpoint names, else the highest '
                        'epoch_N.pth; an error if there is none)')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: bf16 autocast (fp16 + loss scaling on GPUs '
                        'without bf16)')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument('--no-test', action='store_true', help='skip the test after training')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_epochs=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def amp_optim_wrapper(cfg_wrapper: dict) -> dict:
    """The optimizer wrapper for ``--amp`` on this machine."""
    wrapper = dict(cfg_wrapper)
    if torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        wrapper.update(type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic')
    elif torch.cuda.is_available():
        wrapper.update(type='AmpOptimWrapper', dtype='bfloat16')
    else:  # MMEngine's AmpOptimWrapper refuses the CPU
        wrapper.update(type='AutocastOptimWrapper', dtype='bfloat16')
    return wrapper


def build_cfg(args) -> Config:
    cfg = load_tool_config(args.config, args.cfg_options, args.launcher, args.work_dir,
                           training=True)
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp:
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper)
    if args.resume == 'auto':
        # MMEngine only reads work_dir/last_checkpoint and otherwise trains from scratch
        by_epoch = (cfg.get('train_cfg') or {}).get('by_epoch', True)
        try:
            cfg.resume, cfg.load_from = True, latest_checkpoint(cfg.work_dir, by_epoch)
        except FileNotFoundError as err:
            raise SystemExit(f'--resume: {err}') from None
    elif args.resume:
        if '://' not in args.resume and not osp.isfile(args.resume):
            raise SystemExit(f'--resume: checkpoint not found: {args.resume}')
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_cfg(args)
    if args.launcher != 'none':  # so that data preparation can run on rank 0 only
        init_distributed(cfg, args.launcher)
    try:
        if get_rank() == 0:  # before the Runner writes its log and config into the work dir
            lock_work_dir(cfg.work_dir)
        # a run SVIPCheckpointHook would refuse is refused before the Runner writes into the
        # work dir, where it would replace the config copy of the run it refuses to overwrite
        check_run_start(cfg)
        prepare_data(cfg)
        runner = Runner.from_cfg(cfg)
        runner.train()
        if not args.no_test and cfg.get('test_evaluator') and cfg.get('test_dataloader'):
            runner.test()
    except (WorkDirLockedError, CheckpointOverwriteError, CheckpointMismatchError,
            CheckpointReadError) as err:
        raise SystemExit(f'error: {err}') from None


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
