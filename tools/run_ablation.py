#!/usr/bin/env python
"""Run a synthetic-data experiment (several configs x several seeds) and write its report.

    python tools/run_ablation.py {ablation,difficulty,methods,pretrained} [--seeds 0 1 2]
        [--jobs 2] [--threads 1] [--only KEY ...] [--work-dir work_dirs/synthetic_experiments]
        [--report docs/NAME.md] [--cfg-options k=v ...]

An experiment is a data file, ``configs/experiments/<name>.py``. ``ablation``: SVIP's parts
(the baseline at the same epochs and at SVIP's time, drop instead of add, a random context
token, oracle selection); ``difficulty``: the baseline on clean, cluttered and oracle-masked
data; ``pretrained``: both from a pretrained ViT; ``methods``: SVIP, the baseline, APN and
TransZero (also without its transductive parts) under one protocol, from scratch and from the
pretrained ViT, every run calibrated without the test set.

Each run is ``tools/train.py CONFIG --cfg-options randomness.seed=SEED`` in its own process
(``OMP_NUM_THREADS=--threads``), ``--jobs`` at a time; finished runs are reused, a run made
from another config is an error (never overwritten), an interrupted one is resumed. The report
is a Markdown file (default ``docs/<experiment>.md``). How runs are reused, calibrated and
reported: ``svip_mm.experiments``, which this command line runs.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from svip_mm.experiments.experiment import run_experiment  # noqa: E402
from svip_mm.experiments.spec import read_experiments  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('experiment', choices=sorted(read_experiments().variants))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--only', nargs='+', help='variant keys to run (default: all)')
    parser.add_argument('--jobs', type=int, default=1, help='runs at a time')
    parser.add_argument('--threads', type=int, default=None,
                        help='threads per run (default: CPUs / jobs)')
    parser.add_argument('--work-dir', default='work_dirs/synthetic_experiments',
                        help='one folder per variant and seed (shared by the experiments)')
    parser.add_argument('--report', default=None, help='default: docs/<experiment>.md')
    parser.add_argument('--retest', nargs='+', default=[], metavar='KEY',
                        help='variants whose config changed at test time only: evaluate their '
                        'finished checkpoints again instead of refusing')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra key=value options for every run (e.g. train_cfg.max_epochs=2)')
    args = parser.parse_args(argv)
    args.threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    args.report = args.report or osp.join('docs', f'{args.experiment}.md')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.only:
        keys = [k for k, _, _ in read_experiments().variants[args.experiment]]
        unknown = set(args.only) - set(keys)
        if unknown:
            raise SystemExit(f'--only: unknown variants {sorted(unknown)}; the {args.experiment} '
                             f'experiment has {keys}')
    # the report quotes the command line as typed (sys.argv, not the argv given to main)
    lines = run_experiment(args.experiment, args.seeds, args.work_dir, args.report, sys.argv[1:],
                           only=args.only, jobs=args.jobs, threads=args.threads,
                           retest=args.retest, cfg_options=args.cfg_options)
    for line in lines:
        print(line)
    print(f'report: {args.report}')


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
