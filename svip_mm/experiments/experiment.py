"""A whole experiment: its variants' data prepared, every variant x seed run (several at a
time, each in its own process), each run extended as its data file asks (attention probe,
calibration), and the report written (:func:`run_experiment`)."""
import argparse
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config, DictAction

from ..engine import prepare_data
from .ablation_report import write_ablation_report
from .calibrated_run import calibrate_run
from .methods_report import write_methods_report
from ..utils.repository import REPO
from .runs import probe_attention, run_one
from .spec import Experiments, read_experiments


def write_report(experiment: str, records: Dict[str, List[dict]], path: str,
                 argv: Sequence[str], experiments: Optional[Experiments] = None) -> List[str]:
    """The experiment's Markdown report at ``path``; returns its summary lines (also
    printed by the tool): the methods report and its paired differences for an experiment
    with ``calibrate = True`` (:func:`~.methods_report.write_methods_report`), else the
    report with figure and its criteria (:func:`~.ablation_report.write_ablation_report`).

    ``records``: variant key -> its runs' records; ``argv``: the command line's arguments,
    quoted in the report; ``experiments``: the data files (default: the repository's)."""
    spec = experiments or read_experiments()
    if spec.settings[experiment]['calibrate']:
        return write_methods_report(experiment, records, path, argv, spec)
    return write_ablation_report(experiment, records, path, argv, spec)


def _options_dict(cfg_options: Sequence[str]) -> dict:
    """``key=value`` strings as MMEngine's ``--cfg-options`` reads them (a dict to merge)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--o', nargs='+', action=DictAction, default={})
    return parser.parse_args(['--o', *cfg_options] if cfg_options else []).o


def run_experiment(experiment: str, seeds: Sequence[int], work_dir: str, report: str,
                   argv: Sequence[str], only: Optional[Sequence[str]] = None, jobs: int = 1,
                   threads: int = 1, retest: Sequence[str] = (),
                   cfg_options: Sequence[str] = (),
                   experiments: Optional[Experiments] = None) -> List[str]:
    """Run ``experiment`` (a data file of ``configs/experiments``) and write its report.

    Every variant (those keyed in ``only``, default all) is run with every seed, ``jobs`` at
    a time with ``threads`` threads each, in ``<work_dir>/<key>/seed<seed>``
    (:func:`~.runs.run_one`: finished runs are reused); a variant with an attention probe is
    probed (:func:`~.runs.probe_attention`), and with the file's ``calibrate = True`` every
    trained run is calibrated (:func:`~.calibrated_run.calibrate_run`). ``retest``: keys whose
    runs may be evaluated again (config changed at test time only); ``cfg_options``:
    ``key=value`` options for every run. The report goes to ``report`` (:func:`write_report`;
    ``argv`` is the command line it quotes); returns its summary lines.
    """
    spec = experiments or read_experiments()
    entries = spec.variants[experiment]
    if only:
        entries = [e for e in entries if e[0] in only]
    # data first, once per config, so parallel runs never generate the same files
    options = _options_dict(cfg_options)
    for _, _, cfg_path in entries:
        cfg = Config.fromfile(osp.join(REPO, cfg_path))
        cfg.merge_from_dict(options)
        prepare_data(cfg)
    runs = [(key, cfg, seed) for key, _, cfg in entries for seed in seeds]
    extra = list(cfg_options)
    calibrate = spec.settings[experiment]['calibrate']

    def work(job):
        key, cfg, seed = job
        run_dir = osp.abspath(osp.join(work_dir, key, f'seed{seed}'))
        record = run_one(cfg, seed, run_dir, threads, extra, allow_retest=key in retest)
        if key in spec.attention_probe:
            record = probe_attention(record, spec.attention_probe[key], run_dir, threads)
        # an attention-only variant is not trained: there is nothing to calibrate
        if calibrate and key not in spec.attention_only:
            record = calibrate_run(record, cfg, run_dir, threads, extra)
        return key, record

    records: Dict[str, List[dict]] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for key, record in pool.map(work, runs):
            records.setdefault(key, []).append(record)
    os.makedirs(osp.dirname(osp.abspath(report)), exist_ok=True)
    return write_report(experiment, records, report, argv, spec)
