#!/usr/bin/env python
"""Evaluate a checkpoint on the test split (test_seen + test_unseen) with the MMEngine Runner.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.json|FILE.pkl ...]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi] [--show-dir DIR]
        [--show-max N]

Before the Runner is built, the config's ``data_preparation`` steps run (as in
``tools/train.py``). The config's ``test_dataloader`` and ``test_evaluator`` are used
(``GZSLMetric``, and ``PatchSelectionMetric`` where the config adds it). At the end one table
is printed: T1, U, S, H of the honest block (gamma from the config, e.g.
``--cfg-options test_evaluator.0.gamma=0.1`` where ``test_evaluator`` is a list with
``GZSLMetric`` first, as in every config here, or ``test_evaluator.gamma=0.1`` where it is a
single metric; ``tools/calibrate.py`` prints the option for a config) and, labelled, the
oracle and official blocks, followed by the patch-selection figures if any.

``--out`` (may be repeated) writes, by the file's extension:

- ``.json``: the metrics, with the config, checkpoint and sample counts;
- ``.pkl`` / ``.pickle``: the predictions, as mmpretrain's ``--out`` does: a list with one dict
  per test sample in dataset order (``img_path``, ``gt_label``, ``is_unseen``, ``pred_score``
  [C], ``pred_label``, and the model's extra fields such as ``pred_attributes`` [K],
  ``keep_mask`` [U], ``selector_prob`` [U], ``attention_unit_scores`` [U]) holding numpy
  arrays and Python scalars only.
"""
import argparse
import json
import logging
import math
import os
import os.path as osp
import pickle
import sys
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import get_rank  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import svip_mm  # noqa: E402,F401
from svip_mm.engine import init_distributed, prepare_data  # noqa: E402
from svip_mm.engine.checkpoint_hook import CheckpointMismatchError  # noqa: E402
from svip_mm.utils.safe_checkpoint import CheckpointReadError  # noqa: E402
from svip_mm.engine.tool_config import load_tool_config  # noqa: E402
from svip_mm.evaluation import GZSLMetric, PredictionCollector  # noqa: E402
from svip_mm.evaluation.test_table import format_test_table as format_table  # noqa: E402

OUT_KINDS = {'.json': 'metrics', '.pkl': 'predictions', '.pickle': 'predictions'}
# the tables the metrics log themselves; the tool prints one table with all of it instead
METRIC_TABLE_PREFIXES = ('GZSL evaluation:', 'Patch selection on ')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Evaluate an svip_mm / mmpretrain checkpoint on the test split')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where the test logs go '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--out', action='append', default=[], metavar='FILE',
                        help='write the metrics (.json) or the predictions (.pkl/.pickle); '
                        'may be given twice')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. test_evaluator.0.gamma=0.1 '
                        '(the GZSLMetric gamma when test_evaluator is a list with it first, '
                        'as in the configs here; test_evaluator.gamma=0.1 for a single metric)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--show-dir', help='write visualisation figures of the evaluated '
                        'images here (needs the svip_mm visualisation hook)')
    parser.add_argument('--show-max', type=int, metavar='N', help='with --show-dir: draw at '
                        'most N images (default: the hook\'s max_images, 16)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    for out in args.out:
        if osp.splitext(out)[1].lower() not in OUT_KINDS:
            parser.error(f'--out {out}: unknown extension; expected one of '
                         f'{sorted(OUT_KINDS)} (.json: metrics, .pkl: predictions)')
    if args.show_max is not None and (not args.show_dir or args.show_max < 0):
        parser.error(f'--show-max {args.show_max}: expected a count >= 0 together with '
                     '--show-dir')
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint not found: {args.checkpoint}')
    return args


def visualization_hook_name() -> Optional[str]:
    """The svip_mm visualisation hook registered in ``mmpretrain.registry.HOOKS``, if any."""
    from mmpretrain.registry import HOOKS
    import svip_mm.visualization  # noqa: F401  (registers SVIPVisualizationHook)
    names = sorted(name for name, cls in HOOKS.module_dict.items()
                   if cls.__module__.startswith('svip_mm') and 'visual' in name.lower())
    return names[0] if names else None


def build_cfg(args) -> Config:
    cfg = load_tool_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    missing = [k for k in ('test_dataloader', 'test_evaluator') if not cfg.get(k)]
    if missing:
        raise SystemExit(f'{args.config}: the config has no {missing}; tools/test.py evaluates '
                         'the config\'s test_dataloader with its test_evaluator')
    cfg.test_cfg = cfg.get('test_cfg') or dict()
    if args.show_dir:
        hook = visualization_hook_name()
        if hook is None:
            raise SystemExit(
                '--show-dir needs the svip_mm visualisation hook, which is not implemented yet '
                '(no hook of svip_mm with "Visual" in its name is registered in '
                'mmpretrain.registry.HOOKS; it comes with the visualisation issue). Run without '
                '--show-dir.')
        cfg.default_hooks = dict(cfg.get('default_hooks') or {})
        cfg.default_hooks['visualization'] = dict(type=hook, enable=True, out_dir=args.show_dir)
        if args.show_max is not None:
            cfg.default_hooks['visualization']['max_images'] = args.show_max
    return cfg


class _DropMetricTables(logging.Filter):
    """Hides the metrics' own logged tables on the console (the log file keeps them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(METRIC_TABLE_PREFIXES)


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_outputs(outs: List[str], metrics: Dict[str, float], predictions: List[dict],
                  info: dict) -> None:
    for out in outs:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        if OUT_KINDS[osp.splitext(out)[1].lower()] == 'metrics':
            with open(out, 'w') as f:
                json.dump(_json_safe(dict(info, metrics=metrics)), f, indent=1)
        else:
            with open(out, 'wb') as f:
                pickle.dump(predictions, f, protocol=pickle.HIGHEST_PROTOCOL)


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)
    cfg = build_cfg(args)
    if args.launcher != 'none':  # so that data preparation can run on rank 0 only
        init_distributed(cfg, args.launcher)
    prepare_data(cfg)
    runner = Runner.from_cfg(cfg)
    for handler in runner.logger.handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.addFilter(_DropMetricTables())
    collector = PredictionCollector()
    runner.test_evaluator.metrics.append(collector)
    try:
        metrics = runner.test()
    except (CheckpointMismatchError, CheckpointReadError) as err:  # nothing to quote
        raise SystemExit(f'error: {err}') from None
    if get_rank() != 0:
        return metrics
    preds = collector.collected
    flags = [bool(p.get('is_unseen')) for p in preds if 'is_unseen' in p]
    n_unseen = sum(flags) if flags else None
    n_seen = len(flags) - n_unseen if flags else None
    dataset = runner.test_dataloader.dataset
    split = getattr(dataset, 'split', None)
    title = (f'Test of {args.checkpoint} ({type(dataset).__name__}'
             f'{", split " + split if split else ""})')
    gammas = [m.gamma for m in runner.test_evaluator.metrics if isinstance(m, GZSLMetric)]
    print(format_table(metrics, gammas[0] if gammas else None, n_seen, n_unseen, title),
          flush=True)
    write_outputs(args.out, metrics, preds,
                  dict(config=args.config, checkpoint=args.checkpoint, split=split,
                       num_test_seen=n_seen, num_test_unseen=n_unseen))
    for out in args.out:
        print(f'wrote {OUT_KINDS[osp.splitext(out)[1].lower()]} to {out}', flush=True)
    return metrics


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
