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
from mmengine.evaluator import BaseMetric  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import svip_mm  # noqa: E402,F401
from svip_mm.engine import init_distributed, prepare_data  # noqa: E402
from svip_mm.engine.checkpoint_hook import CheckpointMismatchError  # noqa: E402
from svip_mm.engine.safe_checkpoint import CheckpointReadError  # noqa: E402
from svip_mm.engine.tool_config import load_tool_config  # noqa: E402
from svip_mm.evaluation import GZSLMetric  # noqa: E402

OUT_KINDS = {'.json': 'metrics', '.pkl': 'predictions', '.pickle': 'predictions'}
# fields copied from each predicted sample into the predictions file (when present)
PRED_FIELDS = ('gt_label', 'is_unseen', 'pred_score', 'pred_label', 'pred_attributes',
               'keep_mask', 'selector_prob', 'attention_unit_scores')
SCALAR_FIELDS = ('gt_label', 'pred_label', 'is_unseen')
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


class PredictionCollector(BaseMetric):
    """Keeps every predicted sample's fields (:data:`PRED_FIELDS`, ``img_path``) as numpy
    arrays / Python scalars; reports no metric. After the test, ``collected`` holds the list
    (on rank 0) in dataset order."""
    default_prefix = ''

    def __init__(self) -> None:
        super().__init__(collect_device='cpu')
        self.collected: List[dict] = []

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            record = {}
            if 'img_path' in sample:
                record['img_path'] = sample['img_path']
            for key in PRED_FIELDS:
                if key in sample:
                    record[key] = _plain(sample[key], scalar=key in SCALAR_FIELDS)
            self.results.append(record)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        self.collected = list(results)
        return {}


def _plain(value, scalar: bool = False):
    """Tensors -> numpy (float32 for floating point); with ``scalar`` a one-element value
    becomes a Python int / bool."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu()
        value = (value.float() if value.is_floating_point() else value).numpy()
    if scalar and np.size(value) == 1:
        return np.asarray(value).reshape(-1)[0].item()
    return value


class _DropMetricTables(logging.Filter):
    """Hides the metrics' own logged tables on the console (the log file keeps them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(METRIC_TABLE_PREFIXES)


def _fmt(value: Optional[float], spec: str = '8.2f') -> str:
    width = int(spec.lstrip('+-').split('.')[0] or 0)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'.rjust(width)
    return format(value, spec)


def format_table(metrics: Dict[str, float], gamma: Optional[float] = None,
                 n_seen: Optional[int] = None, n_unseen: Optional[int] = None,
                 title: str = 'Test') -> str:
    """One table of the test metrics: the GZSL blocks, then the patch-selection figures,
    then any other metric.

    Args:
        metrics: as returned by ``Runner.test()`` (keys of ``GZSLMetric`` and
            ``PatchSelectionMetric``; others are listed at the end).
        gamma: the honest block's calibration (``GZSLMetric.gamma``), shown in its row.
        n_seen, n_unseen: test-seen / test-unseen sample counts for the title.
        title: the first line.
    """
    counts = ''
    if n_seen is not None:
        counts = f': {n_seen} test-seen + {n_unseen} test-unseen images'
    lines = [f'{title}{counts}', 'ZSL / GZSL, per-class mean top-1 (%)',
             f"  {'block':<9}{'gamma':>8}{'T1':>8}{'U':>8}{'S':>8}{'H':>8}"]
    notes = dict(honest='gamma from the config: the result to quote',
                 oracle='UPPER BOUND: gamma tuned on the test set, not a result',
                 official='official SVIP protocol (gamma tuned on the test set, per-SAMPLE '
                 'accuracy): only for parity with published tables')
    shown = set()
    for block, prefix in (('honest', 'gzsl'), ('oracle', 'oracle'), ('official', 'official')):
        if f'{prefix}/H' not in metrics:
            continue
        keys = [f'{prefix}/{k}' for k in ('U', 'S', 'H', 'gamma')]
        t1 = metrics.get('zsl/top1') if block == 'honest' else None
        row_gamma = gamma if block == 'honest' else metrics.get(f'{prefix}/gamma')
        if block == 'honest':
            keys.append('zsl/top1')
        shown.update(keys)
        lines.append(f'  {block:<9}{_fmt(row_gamma, "+8.3f")}{_fmt(t1)}'
                     f'{_fmt(metrics[prefix + "/U"])}{_fmt(metrics[prefix + "/S"])}'
                     f'{_fmt(metrics[prefix + "/H"])}   {notes[block]}')
    selection = {k: v for k, v in metrics.items() if k.startswith('selection/')}
    if selection:
        shown.update(selection)
        lines.append('Patch selection vs ground-truth masks (AUROC for "background unit"; '
                     'precision of the kept set on foreground units, %)')
        lines.append(f"  {'scorer':<11}{'AUROC':>8}{'prec.':>8}")
        for who in ('selector', 'attention'):
            if f'selection/{who}_auroc' in selection:
                lines.append(f'  {who:<11}{_fmt(selection[f"selection/{who}_auroc"], "8.3f")}'
                             f'{_fmt(selection[f"selection/{who}_precision"], "8.1f")}')
        sel = {k.split('/', 1)[1]: _fmt(v, '.1f') for k, v in selection.items()}
        lines.append(f"  precision by chance {sel.get('chance_precision', '-')}, best possible "
                     f"{sel.get('max_precision', '-')}; {sel.get('background_units', '-')}% of "
                     'units are background')
    others = {k: v for k, v in metrics.items() if k not in shown}
    if others:
        lines.append('Other metrics')
        lines.extend(f'  {k}: {v:.4g}' if isinstance(v, float) else f'  {k}: {v}'
                     for k, v in sorted(others.items()))
    return '\n'.join(lines)


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
