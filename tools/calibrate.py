#!/usr/bin/env python
"""Choose the calibration gamma of GZSL without the test set (docs/calibration.md).

The xlsa17 splits divide the seen classes into ``train_loc`` classes and disjoint ``val_loc``
classes. A model trained on the train classes only sees the val classes as unseen, so they
can stand in for the unseen classes: gamma is chosen on them, then used for the test run of
the model trained on all seen classes. Pseudo-seen images are needed too: a seeded fraction
of the train classes' images is held out of training (per class, so every train class keeps
images on both sides).

Two steps around an ordinary training run::

    # 1. write the calibration training config (train_loc minus the held-out images,
    #    seen classes = the train classes; no test set anywhere)
    python tools/calibrate.py prepare configs/svip_vit_synthetic.py --work-dir work_dirs/calib
    # 2. train it
    python tools/train.py work_dirs/calib/calibration_train.py
    # 3. sweep gamma on val_loc images (pseudo-unseen) + the held-out images (pseudo-seen)
    python tools/calibrate.py gamma work_dirs/calib/calibration_train.py \\
        work_dirs/calib/epoch_30.pth --out work_dirs/calib/gamma.json
    # 4. test the model trained on trainval with that gamma; step 3 prints the option, here
    #    test_evaluator.0.gamma (the config's test_evaluator is a list, GZSLMetric first)
    python tools/test.py configs/svip_vit_synthetic.py CKPT --cfg-options test_evaluator.0.gamma=G

``prepare`` leaves the held-out indices and the class lists in the written config (its
``calibration`` entry); ``gamma`` reads them from there.
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import svip_mm  # noqa: E402,F401
from svip_mm.engine import prepare_data  # noqa: E402
from svip_mm.evaluation import OFFICIAL_GAMMAS, PredictionCollector  # noqa: E402
from svip_mm.utils.config_file import read_config  # noqa: E402
from svip_mm.evaluation.calibration import (calibrate_gamma, gamma_option,  # noqa: E402
                                           holdout_split)

CALIBRATION_CONFIG = 'calibration_train.py'
CLASS_TABLE_HOOK = 'ZSLClassTableHook'


# ---------------------------------------------------------------------------- prepare
def prepare(args) -> Config:
    """Write ``<work-dir>/calibration_train.py`` and the class table it points to."""
    from mmpretrain.registry import DATASETS
    cfg = read_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0] + '_calibration')
    os.makedirs(work_dir, exist_ok=True)
    prepare_data(cfg)

    ds_cfg = copy.deepcopy(dict(cfg.train_dataloader.dataset))
    ds_cfg.pop('indices', None)
    train_set = DATASETS.build(dict(ds_cfg, split='train', pipeline=[]))
    meta = train_set.metainfo
    missing = [k for k in ('train_classes', 'val_classes', 'class_attributes') if k not in meta]
    if missing:
        raise SystemExit(f'{type(train_set).__name__} metainfo lacks {missing}: calibration needs '
                         'an xlsa17-format ZSL dataset (ZSLXlsa17Dataset and its subclasses)')
    train_classes = [int(c) for c in meta['train_classes']]
    val_classes = [int(c) for c in meta['val_classes']]
    labels = [int(train_set.get_data_info(i)['gt_label']) for i in range(len(train_set))]
    split = holdout_split(labels, train_classes, args.holdout, args.seed)

    table = osp.abspath(osp.join(work_dir, 'class_attributes.npy'))
    np.save(table, np.asarray(meta['class_attributes'], dtype=np.float32))
    head = dict(class_attributes=table, seen_classes=train_classes)
    if meta.get('attribute_group_ids') is not None:
        groups = osp.abspath(osp.join(work_dir, 'attribute_group_ids.npy'))
        np.save(groups, np.asarray(meta['attribute_group_ids'], dtype=np.int64))
        head['attribute_group_ids'] = groups

    test_loader = cfg.get('test_dataloader') or {}
    test_pipeline = (test_loader.get('dataset') or {}).get('pipeline')
    if not test_pipeline:
        raise SystemExit(f'{args.config}: test_dataloader.dataset.pipeline is needed (the '
                         'calibration images are read with the test pipeline)')
    cal = copy.deepcopy(cfg)
    cal.train_dataloader.dataset.update(split='train', indices=split['train'])
    cal.model.head.update(head)
    # the class table is fixed in the model (seen = train classes); the hook would replace
    # it by the dataset's (seen = train + val classes)
    if cfg.get('custom_hooks'):
        cal.custom_hooks = [h for h in cfg.custom_hooks
                            if str(h.get('type', '')).split('.')[-1] != CLASS_TABLE_HOOK]
    # (MMEngine accepts None only for its own default hooks: the entry is left out instead)
    cal.default_hooks = {k: h for k, h in (cfg.get('default_hooks') or {}).items()
                         if h is None or str(h.get('type', '')).split('.')[-1] != CLASS_TABLE_HOOK}
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cal[key] = None
    cal.work_dir = work_dir
    cal.calibration = dict(
        source_config=osp.abspath(args.config), holdout=float(args.holdout),
        seed=int(args.seed), train_classes=train_classes, val_classes=val_classes,
        heldout_indices=split['heldout'], test_pipeline=test_pipeline,
        batch_size=int(test_loader.get('batch_size', 32)),
        num_workers=int(test_loader.get('num_workers', 0)),
        gamma_option=gamma_option(cfg.get('test_evaluator')))
    out = osp.join(work_dir, CALIBRATION_CONFIG)
    cal.dump(out)
    n_val = len(DATASETS.build(dict(ds_cfg, split='val', pipeline=[])))
    print(f'Calibration split of {args.config} ({type(train_set).__name__}):\n'
          f'  {len(train_classes)} train classes: {len(split["train"])} images to train on, '
          f'{len(split["heldout"])} held out (pseudo-seen; fraction {args.holdout:g}, seed '
          f'{args.seed})\n'
          f'  {len(val_classes)} val classes: {n_val} images (pseudo-unseen)\n'
          f'wrote {out}\nnext:\n'
          f'  python tools/train.py {out}\n'
          f'  python tools/calibrate.py gamma {out} {osp.join(work_dir, "epoch_N.pth")} '
          f'--out {osp.join(work_dir, "gamma.json")}', flush=True)
    return cal


# ---------------------------------------------------------------------------- gamma
def _parse_gammas(text: Optional[str]) -> Sequence[float]:
    if not text:
        return OFFICIAL_GAMMAS
    try:
        start, stop, step = (float(x) for x in text.split(':'))
    except ValueError:
        raise SystemExit(f'--gammas {text!r}: expected START:STOP:STEP, e.g. -1:1:0.01') from None
    if step <= 0 or stop <= start:
        raise SystemExit(f'--gammas {text!r}: expected START < STOP and STEP > 0')
    n = int(np.floor((stop - start) / step + 1e-9))
    return np.round(start + step * np.arange(n), 10)


def gamma(args) -> dict:
    """Evaluate the calibration model on the calibration images and write the best gamma."""
    cfg = read_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cal = cfg.get('calibration')
    if not cal:
        raise SystemExit(f'{args.config} has no calibration entry: give the config written by '
                         '`tools/calibrate.py prepare`')
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint not found: {args.checkpoint}')
    ds = copy.deepcopy(dict(cfg.train_dataloader.dataset))
    ds.pop('indices', None)
    ds.update(pipeline=cal['test_pipeline'], test_mode=True)
    cfg.test_dataloader = dict(
        batch_size=cal['batch_size'], num_workers=cal['num_workers'],
        persistent_workers=False, sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='ConcatDataset', ignore_keys=['split'], datasets=[
            dict(ds, split='val'), dict(ds, split='train', indices=cal['heldout_indices'])]))
    cfg.test_evaluator = []
    cfg.test_cfg = dict()
    cfg.load_from = args.checkpoint
    cfg.resume = False
    cfg.work_dir = args.work_dir or osp.join(cfg.get('work_dir') or 'work_dirs', 'calibrate')
    prepare_data(cfg)
    runner = Runner.from_cfg(cfg)
    collector = PredictionCollector()
    runner.test_evaluator.metrics.append(collector)
    runner.test()
    preds = collector.collected
    scores = np.stack([p['pred_score'] for p in preds])
    labels = np.array([p['gt_label'] for p in preds])
    result = calibrate_gamma(scores, labels, cal['train_classes'], cal['val_classes'],
                             _parse_gammas(args.gammas))
    n_unseen = int(np.isin(labels, cal['val_classes']).sum())
    option = f"{cal['gamma_option']}={result['gamma']:g}"
    result.update(
        cfg_option=option, config=args.config, checkpoint=args.checkpoint,
        source_config=cal['source_config'], holdout=cal['holdout'], seed=cal['seed'],
        train_classes=cal['train_classes'], val_classes=cal['val_classes'],
        num_pseudo_seen=int(labels.size - n_unseen), num_pseudo_unseen=n_unseen)
    out = args.out or osp.join(cfg.work_dir, 'gamma.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(result, f, indent=1)
    z = result['at_zero']
    if result['H'] == 0:
        print('WARNING: H is 0 for every gamma (no pseudo-seen or no pseudo-unseen class is ever '
              'predicted right): the calibration model is not trained enough, and this gamma '
              'is arbitrary', flush=True)
    print(f"Calibration on {n_unseen} images of {len(cal['val_classes'])} val classes "
          f"(pseudo-unseen) + {labels.size - n_unseen} held-out images of "
          f"{len(cal['train_classes'])} train classes (pseudo-seen), per-class mean top-1 (%):\n"
          f"  gamma {result['gamma']:+.3f}: U {result['U']:.2f}  S {result['S']:.2f}  "
          f"H {result['H']:.2f}   (best H for gamma in [{result['best_range'][0]:+.3f}, "
          f"{result['best_range'][1]:+.3f}])\n"
          f"  gamma +0.000: U {z['U']:.2f}  S {z['S']:.2f}  H {z['H']:.2f}\n"
          f"wrote {out}\ntest with: python tools/test.py {cal['source_config']} CHECKPOINT "
          f'--cfg-options {option}', flush=True)
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('prepare', help='write the calibration training config')
    p.add_argument('config', help='the experiment config (trained on trainval)')
    p.add_argument('--work-dir', help='where the calibration config, class table and training '
                   'outputs go (default: work_dirs/<config name>_calibration)')
    p.add_argument('--holdout', type=float, default=0.2,
                   help='share of each train class\'s images held out as pseudo-seen')
    p.add_argument('--seed', type=int, default=0, help='seed of the held-out choice')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override entries of the experiment config first')
    g = sub.add_parser('gamma', help='sweep gamma with a trained calibration model')
    g.add_argument('config', help='the config written by `prepare`')
    g.add_argument('checkpoint', help='the calibration model (trained on that config)')
    g.add_argument('--out', help='JSON result (default: <work_dir>/calibrate/gamma.json)')
    g.add_argument('--gammas', help='START:STOP:STEP of the sweep (default -1:1:0.01, the '
                   'official grid)')
    g.add_argument('--work-dir', help='where the evaluation logs go')
    g.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, e.g. model.predict_attention=False')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return prepare(args) if args.command == 'prepare' else gamma(args)


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
