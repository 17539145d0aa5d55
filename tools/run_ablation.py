#!/usr/bin/env python
"""Run a synthetic-data experiment (several configs x several seeds) and write its report.

    python tools/run_ablation.py {ablation,difficulty,methods,pretrained} [--seeds 0 1 2]
        [--jobs 2] [--threads 1] [--only KEY ...] [--work-dir work_dirs/synthetic_experiments]
        [--report docs/NAME.md] [--cfg-options k=v ...]

An experiment is a data file, ``configs/experiments/<name>.py``: its variants (a key, a label
and a config each; configs that differ in one thing), the criteria its report checks, and which
variants get their attention measured. ``ablation``: SVIP's parts (the baseline at the same
epochs and at SVIP's time, drop instead of add, a random context token, oracle selection);
``difficulty``: the baseline on clean, cluttered and oracle-masked data; ``pretrained``: both
from a pretrained ViT; ``methods``: SVIP, the baseline, APN and TransZero (also without its
transductive parts) under one protocol, from scratch and from the pretrained ViT. A new
experiment is a new file there.

Each run is ``tools/train.py CONFIG --cfg-options randomness.seed=SEED`` in its own process
(``OMP_NUM_THREADS=--threads``), ``--jobs`` at a time; the test metrics are read from the run's
MMEngine JSON log. A run whose ``result.json`` already exists for the same resolved config, seed
and pretrained backbone (the digest of each ``pretrained_backbone`` step's pretraining config,
recorded as ``pretraining``) is reused (and said so), so an interrupted experiment continues; a
different one is an error, never overwritten; a run that left a checkpoint
but no result (killed, or failed after training) is resumed from its checkpoint. The report is
a Markdown file with mean, standard deviation and range over seeds of ZSL T1, GZSL U / S / H
(gamma 0: no calibration), selector AUROC, per-group attribute accuracy on unseen images and
wall time, the per-run rows, the experiment's criteria with the measured differences, and a
figure (PNG next to the report).

An experiment file with ``calibrate = True`` (``methods``) also calibrates every finished run
without the test set, in ``<run>/calibration``, each step a subprocess (:func:`calibrate_run`):
``tools/calibrate.py prepare`` (held-out seed 0), ``tools/train.py`` of the calibration config
(``--no-test``, the run's seed and options), ``tools/calibrate.py gamma`` (gamma.json) and
``tools/test.py`` of the run's last checkpoint at that gamma (metrics.json). Finished steps are
reused; a calibration folder made from another config, seed or options is an error. The record
gains ``calibrated`` (gamma, U, S, H, T1, wall time). Its report (:func:`write_methods_report`)
has one table per ``regime`` of the variants: ZSL T1, U / S / H at gamma 0, H at the calibrated
gamma and the gamma, the test-tuned oracle and official H (labelled as such), the training and
calibration wall times; variants marked ``transductive=True`` (they read the unseen classes'
attributes in training) are marked; then the paired per-seed differences of each variant
against its regime's ``reference`` for H at gamma 0 and calibrated H, and whether each lies
inside the seed spread (``svip_mm.evaluation.comparison``).
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

#: the experiments' definitions: data files, one per experiment (its name is the file's)
EXPERIMENT_DIR = osp.join(REPO, 'configs', 'experiments')

MAIN_METRICS = [('zsl/top1', 'T1'), ('gzsl/U', 'U'), ('gzsl/S', 'S'), ('gzsl/H', 'H'),
                ('selection/selector_auroc', 'AUROC'),
                ('selection/attention_auroc', 'attention AUROC')]


def load_experiments(folder: str = EXPERIMENT_DIR):
    """Read every ``<name>.py`` of ``folder`` (plain data, read with MMEngine's Config).

    Returns ``(experiments, criteria, absolute_criteria, attention_only, attention_probe)``:
    experiment -> ``[(key, label, config)]``; experiment -> ``[(text, key a, key b, metric,
    least a - b)]``; experiment -> ``[(text, key, metric, least mean)]``; the keys trained for
    0 epochs (attention only); key -> probe config. A key's flags hold in every experiment.
    """
    from mmengine.config import Config
    experiments, criteria, absolute, attention_only, probes = {}, {}, {}, set(), {}
    for path in sorted(glob.glob(osp.join(folder, '*.py'))):
        name = osp.splitext(osp.basename(path))[0]
        spec = Config.fromfile(path)
        missing = [k for k in ('variants', 'criteria') if k not in spec]
        if missing:
            raise ValueError(f'{path}: expected the keys variants and criteria, missing {missing}')
        experiments[name] = [(v['key'], v['label'], v['config']) for v in spec.variants]
        criteria[name] = [(c['text'], c['a'], c['b'], c['metric'], float(c['least']))
                          for c in spec.criteria]
        if spec.get('absolute_criteria'):
            absolute[name] = [(c['text'], c['key'], c['metric'], float(c['least']))
                              for c in spec.absolute_criteria]
        for v in spec.variants:
            if v.get('attention_only'):
                attention_only.add(v['key'])
            if v.get('attention_probe'):
                probes[v['key']] = v['attention_probe']
    return experiments, criteria, absolute, attention_only, probes


EXPERIMENTS, CRITERIA, ABSOLUTE_CRITERIA, ATTENTION_ONLY, ATTENTION_PROBE = load_experiments()


def load_settings(folder: str = EXPERIMENT_DIR) -> Dict[str, dict]:
    """The methods-comparison settings of every ``<name>.py`` of ``folder``.

    Returns experiment -> ``dict(calibrate, reference, regime, transductive)``: ``calibrate``
    (the file's ``calibrate = True``: every run is calibrated, :func:`calibrate_run`, and the
    report is the methods table, :func:`write_methods_report`); ``reference`` (variant key ->
    the key of the variant it is paired with); ``regime`` (variant key -> its regime, ``None``
    if the file names none; the report has one table per regime); ``transductive`` (the keys
    marked ``transductive=True``: they read the unseen classes' attributes in training).

    The file's ``reference`` is a variant key (the reference of every variant) or a dict
    regime -> key (each variant is paired with its regime's reference, which must be of that
    regime); required when ``calibrate`` is set.
    """
    from mmengine.config import Config
    settings = {}
    for path in sorted(glob.glob(osp.join(folder, '*.py'))):
        name = osp.splitext(osp.basename(path))[0]
        spec = Config.fromfile(path)
        keys = [v['key'] for v in spec.variants]
        regime = {v['key']: v.get('regime') for v in spec.variants}
        calibrate = bool(spec.get('calibrate', False))
        ref = spec.get('reference')
        if ref is None and calibrate:
            raise ValueError(f'{path}: calibrate = True needs reference (a variant key, or a '
                             'dict regime -> variant key) to pair the methods with')
        reference = {}
        if isinstance(ref, str):
            if ref not in keys:
                raise ValueError(f'{path}: reference {ref!r} is not a variant key; expected one '
                                 f'of {keys}')
            reference = {k: ref for k in keys}
        elif ref is not None:
            ref = dict(ref)
            for k in keys:
                if regime[k] not in ref:
                    raise ValueError(f'{path}: variant {k!r} has regime {regime[k]!r}, which '
                                     f'reference does not name; expected one of {sorted(ref)}')
            for r, k in ref.items():
                if k not in keys or regime[k] != r:
                    raise ValueError(f'{path}: reference {r!r}: {k!r} is not a variant of '
                                     f'that regime; expected one of '
                                     f'{[v for v in keys if regime[v] == r]}')
            reference = {k: ref[regime[k]] for k in keys}
        settings[name] = dict(calibrate=calibrate, reference=reference, regime=regime,
                              transductive={v['key'] for v in spec.variants
                                            if v.get('transductive')})
    return settings


SETTINGS = load_settings()


def file_digest(path: str) -> str:
    """sha1 of the resolved config (with its ``_base_`` files merged): a change to what the
    config says invalidates runs; a comment or a reformatting does not."""
    from mmengine.config import Config
    digest = hashlib.sha1()
    cfg = Config.fromfile(path)
    digest.update(cfg.pretty_text.encode())
    return digest.hexdigest()[:12]


def pretraining_digests(path: str) -> Dict[str, str]:
    """``out`` -> digest of each ``pretrained_backbone`` data-preparation step of the config:
    what its pretrained backbone is made from. The config's own digest (:func:`file_digest`)
    names the step's config file, not its content, so an edited pretraining config would
    otherwise leave the fine-tuning runs looking reusable."""
    from mmengine.config import Config

    from svip_mm.engine.pretrained_backbone import step_digest
    steps = Config.fromfile(path).get('data_preparation') or []
    digests = {}
    for step in steps:
        if step.get('type') == 'pretrained_backbone':
            step = {k: v for k, v in step.items() if k != 'type'}
            # the runs start in the repository: the step's paths are relative to it
            if 'config' in step and not osp.isabs(step['config']):
                step['config'] = osp.join(REPO, step['config'])
            digests[step['out']] = step_digest(step)
    return digests


def read_test_metrics(work_dir: str) -> Dict[str, float]:
    """The last line of the newest ``<timestamp>/<timestamp>.json`` log: the test metrics."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    for log in reversed(logs):
        with open(log) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        if lines and 'gzsl/H' in lines[-1]:
            return lines[-1]
    raise RuntimeError(f'no test metrics in the JSON logs under {work_dir} (did the run fail? '
                       f'see {osp.join(work_dir, "train.out")})')


def retest(record: dict, cfg_path: str, digest: str, work_dir: str, threads: int) -> dict:
    """Evaluate a finished run's last checkpoint with the config as it is now.

    For a config change that only acts at test time (e.g. ``head.eval_units``): the training
    is kept, the metrics are replaced, and the record says so (``retested_from``: the digest
    of the config that trained it)."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    test_dir = osp.join(work_dir, f'retest_{digest}')
    cmd = [sys.executable, osp.join(REPO, 'tools/test.py'), osp.join(REPO, cfg_path), checkpoint,
           '--work-dir', test_dir, *(['--cfg-options', *record['extra']] if record['extra']
                                     else [])]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print(f'retest {cfg_path} {checkpoint} (the config changed since it was trained)',
          flush=True)
    os.makedirs(test_dir, exist_ok=True)
    with open(osp.join(test_dir, 'test.out'), 'w') as log:
        code = subprocess.call(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        raise RuntimeError(f'retest of {checkpoint} failed with exit code {code}; see '
                           f'{osp.join(test_dir, "test.out")}')
    new = dict(record, config_digest=digest, metrics=read_test_metrics(test_dir),
               retested_from=record.get('retested_from', record['config_digest']))
    # the calibration tested the old config: it no longer describes this record
    new.pop('calibrated', None)
    return new


def run_one(cfg_path: str, seed: int, work_dir: str, threads: int, extra: List[str],
            allow_retest: bool = False) -> dict:
    """Train + test one config with one seed (a subprocess); returns the stored record.

    An existing record of the same config and options is reused. One made with another config
    is an error, unless ``allow_retest``: then its checkpoint is evaluated again with the
    current config (:func:`retest`) and the record is rewritten (the old one is kept as
    ``result.<old digest>.json``)."""
    os.makedirs(work_dir, exist_ok=True)
    result_file = osp.join(work_dir, 'result.json')
    digest = file_digest(osp.join(REPO, cfg_path))
    pretraining = pretraining_digests(osp.join(REPO, cfg_path))
    if osp.isfile(result_file):
        with open(result_file) as f:
            record = json.load(f)
        # a changed pretraining invalidates the training itself: neither reuse nor retest
        if 'pretraining' in record and record['pretraining'] != pretraining:
            raise RuntimeError(
                f'{result_file} was fine-tuned from another pretrained backbone (pretraining '
                f'digests {record["pretraining"]}, the config now makes {pretraining}): its '
                'pretraining config or seed changed. Move the run away (nothing is '
                'overwritten) or use another --work-dir')
        if record.get('config_digest') == digest and record.get('extra') == extra:
            if pretraining and 'pretraining' not in record:
                print(f'reusing {result_file} (same config and seed; it predates the record of '
                      'its pretraining digest, so a changed pretraining config cannot be '
                      'detected for it)', flush=True)
            else:
                print(f'reusing {result_file} (same config and seed)', flush=True)
            return record
        if not allow_retest or record.get('extra') != extra:
            raise RuntimeError(f'{result_file} was made with another config or options; move it '
                               'away (nothing is overwritten), use another --work-dir, or '
                               '--retest the variant if the change acts at test time only')
        new = retest(record, cfg_path, digest, work_dir, threads)
        os.replace(result_file, osp.join(work_dir, f'result.{record["config_digest"]}.json'))
        with open(result_file, 'w') as f:
            json.dump(new, f, indent=1)
        return new
    # an earlier attempt that left a checkpoint (killed, or failed in the test) is resumed
    # from it (tools/train.py --resume): its epochs are not trained again, and its wall time
    # counts (attempts.json); the output of attempt n stays as train.<n>.out
    attempts_file = osp.join(work_dir, 'attempts.json')
    attempts = []
    if osp.isfile(attempts_file):
        with open(attempts_file) as f:
            attempts = json.load(f)
    resume = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
    out_file = osp.join(work_dir, 'train.out')
    if osp.isfile(out_file):
        os.replace(out_file, osp.join(work_dir, f'train.{len(attempts)}.out'))
    cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), osp.join(REPO, cfg_path),
           '--work-dir', work_dir, *(['--resume'] if resume else []),
           '--cfg-options', f'randomness.seed={seed}', *extra]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print(f'{"resume" if resume else "start "} {cfg_path} seed {seed} -> {work_dir}', flush=True)
    start = time.time()
    with open(out_file, 'w') as log:
        code = subprocess.call(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    attempts.append(dict(wall_s=time.time() - start, exit_code=code, resumed=resume))
    with open(attempts_file, 'w') as f:
        json.dump(attempts, f, indent=1)
    if code != 0:
        raise RuntimeError(f'{cfg_path} seed {seed} failed with exit code {code}; see '
                           f'{out_file} (run the experiment again to resume it)')
    wall = sum(a['wall_s'] for a in attempts)
    record = dict(config=cfg_path, config_digest=digest, seed=seed, extra=extra, wall_s=wall,
                  threads=threads, attempts=len(attempts), metrics=read_test_metrics(work_dir))
    if pretraining:
        record['pretraining'] = pretraining
    with open(result_file, 'w') as f:
        json.dump(record, f, indent=1)
    print(f'done   {cfg_path} seed {seed}: H {record["metrics"]["gzsl/H"]:.1f} in {wall:.0f} s',
          flush=True)
    return record


def probe_attention(record: dict, probe_cfg: str, work_dir: str, threads: int) -> dict:
    """Add the attention-rollout AUROC of a finished run's backbone to its record.

    The run's last checkpoint is loaded into ``probe_cfg`` (an SVIP config trained for 0
    epochs) through ``model.backbone.init_cfg.checkpoint`` and tested; the record gains
    ``selection/attention_auroc`` and ``attention_probe`` (the probe config), and is stored."""
    if 'attention_probe' in record:
        return record
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    probe_dir = osp.join(work_dir, 'attention_probe')
    cmd = [sys.executable, osp.join(REPO, 'tools/train.py'), osp.join(REPO, probe_cfg),
           '--work-dir', probe_dir, '--cfg-options', f'randomness.seed={record["seed"]}',
           f'model.backbone.init_cfg.checkpoint={checkpoint}']
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    os.makedirs(probe_dir, exist_ok=True)
    with open(osp.join(probe_dir, 'probe.out'), 'w') as log:
        code = subprocess.call(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        raise RuntimeError(f'attention probe of {checkpoint} failed with exit code {code}; see '
                           f'{osp.join(probe_dir, "probe.out")}')
    auroc = read_test_metrics(probe_dir)['selection/attention_auroc']
    record = dict(record, attention_probe=probe_cfg,
                  metrics=dict(record['metrics'], **{'selection/attention_auroc': auroc}))
    with open(osp.join(work_dir, 'result.json'), 'w') as f:
        json.dump(record, f, indent=1)
    return record


#: the held-out choice of every calibration (tools/calibrate.py prepare --seed): one split for
#: every run, as the rule of docs/results.md ("Calibrated") fixed it
CALIBRATION_HOLDOUT_SEED = 0


def _run_step(state: dict, state_file: str, name: str, cmd: List[str], log_file: str,
              threads: int, what: str) -> None:
    """Run one calibration step (a subprocess), add its wall time and attempt to ``state``
    (saved to ``state_file``), mark it done; a failure is an error naming its log."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    step = state['steps'].setdefault(name, {})
    step.setdefault('wall_s', 0.0)
    step.setdefault('attempts', 0)
    if osp.isfile(log_file):  # an earlier attempt's output stays as <log>.<n>
        os.replace(log_file, f'{log_file}.{step["attempts"]}')
    start = time.time()
    with open(log_file, 'w') as log:
        code = subprocess.call(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    step['wall_s'] += time.time() - start
    step['attempts'] += 1
    step['done'] = code == 0
    with open(state_file, 'w') as f:
        json.dump(state, f, indent=1)
    if code != 0:
        raise RuntimeError(f'calibration step {name} of {what} failed with exit code {code}; '
                           f'see {log_file} (run the experiment again to continue from this '
                           'step)')


def calibrate_run(record: dict, cfg_path: str, work_dir: str, threads: int,
                  extra: List[str]) -> dict:
    """Choose the calibration gamma of a finished run without the test set, and test at it.

    Four subprocesses in ``<work_dir>/calibration`` (docs/calibration.md; the rule of
    docs/results.md, "Calibrated"), each skipped when an earlier call finished it:

    1. ``tools/calibrate.py prepare CONFIG --work-dir calibration`` (held-out seed 0 and the
       tool's other defaults): ``calibration_train.py``, the train_loc classes minus the
       held-out images;
    2. ``tools/train.py calibration/calibration_train.py --work-dir calibration/train
       --no-test --cfg-options randomness.seed=SEED`` (resumed from its checkpoint if an
       earlier attempt left one);
    3. ``tools/calibrate.py gamma``: gamma swept on val_loc images (pseudo-unseen) and the
       held-out images (pseudo-seen), written to ``calibration/gamma.json``;
    4. ``tools/test.py CONFIG <the run's last checkpoint> --work-dir calibration/test --out
       calibration/metrics.json --cfg-options <gamma.json's cfg_option>``.

    The run's extra ``--cfg-options`` go to steps 1, 2 and 4. The steps' progress and wall
    times are kept in ``calibration/calibration.json`` with what they were made from (config
    digest, seed, options, held-out seed, pretraining digests); a folder made from anything
    else is an error, never overwritten. The record gains ``calibrated``: ``gamma``,
    ``option``, ``U``, ``S``, ``H``, ``T1`` (test metrics at that gamma), ``calibration_H``
    (H on the calibration images), ``wall_s`` (the four steps), ``checkpoint``,
    ``config_digest``, ``extra``; it is stored in ``result.json``.
    """
    done = record.get('calibrated')
    if (done and done.get('config_digest') == record['config_digest']
            and done.get('extra') == extra):
        return record
    cal_dir = osp.join(work_dir, 'calibration')
    state_file = osp.join(cal_dir, 'calibration.json')
    identity = dict(config=cfg_path, config_digest=record['config_digest'],
                    seed=record['seed'], extra=extra, holdout_seed=CALIBRATION_HOLDOUT_SEED,
                    pretraining=record.get('pretraining'))
    what = f'{cfg_path} seed {record["seed"]}'
    if osp.isfile(state_file):
        with open(state_file) as f:
            state = json.load(f)
        differ = sorted(k for k in identity if state.get(k) != identity[k])
        if differ:
            raise RuntimeError(
                f'{state_file} was made from another {", ".join(differ)} than the run of '
                f'{what} has now: move {cal_dir} away (nothing is overwritten) or use another '
                '--work-dir (--retest evaluates the run again, not its calibration)')
        print(f'continue calibration of {what} in {cal_dir}', flush=True)
    else:
        if osp.isdir(cal_dir) and os.listdir(cal_dir):
            raise RuntimeError(f'{cal_dir} exists without {state_file}: it was not made by '
                               'this tool; move it away (nothing is overwritten)')
        os.makedirs(cal_dir, exist_ok=True)
        state = dict(identity, steps={})
        with open(state_file, 'w') as f:
            json.dump(state, f, indent=1)
        print(f'calibrate {what} -> {cal_dir}', flush=True)
    steps = state['steps']
    options = ['--cfg-options', *extra] if extra else []
    config = osp.join(REPO, cfg_path)
    cal_config = osp.join(cal_dir, 'calibration_train.py')
    train_dir = osp.join(cal_dir, 'train')
    gamma_file = osp.join(cal_dir, 'gamma.json')
    metrics_file = osp.join(cal_dir, 'metrics.json')
    py = sys.executable

    def finished(name):
        return steps.get(name, {}).get('done', False)

    if not finished('prepare'):
        _run_step(state, state_file, 'prepare',
                  [py, osp.join(REPO, 'tools/calibrate.py'), 'prepare', config, '--work-dir',
                   cal_dir, '--seed', str(CALIBRATION_HOLDOUT_SEED), *options],
                  osp.join(cal_dir, 'prepare.out'), threads, what)
    if not finished('train'):
        resume = osp.isfile(osp.join(train_dir, 'last_checkpoint'))
        _run_step(state, state_file, 'train',
                  [py, osp.join(REPO, 'tools/train.py'), cal_config, '--work-dir', train_dir,
                   '--no-test', *(['--resume'] if resume else []), '--cfg-options',
                   f'randomness.seed={record["seed"]}', *extra],
                  osp.join(cal_dir, 'train.out'), threads, what)
    with open(osp.join(train_dir, 'last_checkpoint')) as f:
        cal_checkpoint = f.read().strip()
    if not finished('gamma') or steps['gamma'].get('checkpoint') != cal_checkpoint:
        steps.setdefault('gamma', {})['checkpoint'] = cal_checkpoint
        _run_step(state, state_file, 'gamma',
                  [py, osp.join(REPO, 'tools/calibrate.py'), 'gamma', cal_config,
                   cal_checkpoint, '--out', gamma_file, '--work-dir',
                   osp.join(cal_dir, 'gamma')],
                  osp.join(cal_dir, 'gamma.out'), threads, what)
    with open(gamma_file) as f:
        chosen = json.load(f)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    # a new checkpoint of the run, or a new gamma, makes the calibrated test stale
    if (not finished('test') or steps['test'].get('checkpoint') != checkpoint
            or steps['test'].get('option') != chosen['cfg_option']):
        steps.setdefault('test', {}).update(checkpoint=checkpoint, option=chosen['cfg_option'])
        _run_step(state, state_file, 'test',
                  [py, osp.join(REPO, 'tools/test.py'), config, checkpoint, '--work-dir',
                   osp.join(cal_dir, 'test'), '--out', metrics_file, '--cfg-options', *extra,
                   chosen['cfg_option']],
                  osp.join(cal_dir, 'test.out'), threads, what)
    with open(metrics_file) as f:
        metrics = json.load(f)['metrics']
    calibrated = dict(gamma=float(chosen['gamma']), option=chosen['cfg_option'],
                      U=metrics['gzsl/U'], S=metrics['gzsl/S'], H=metrics['gzsl/H'],
                      T1=metrics['zsl/top1'], calibration_H=float(chosen['H']),
                      wall_s=sum(s['wall_s'] for s in steps.values()), checkpoint=checkpoint,
                      config_digest=record['config_digest'], extra=extra)
    record = dict(record, calibrated=calibrated)
    with open(osp.join(work_dir, 'result.json'), 'w') as f:
        json.dump(record, f, indent=1)
    print(f'calibrated {what}: gamma {calibrated["gamma"]:g}, H {calibrated["H"]:.1f} '
          f'(gamma 0: {record["metrics"]["gzsl/H"]:.1f}) in {calibrated["wall_s"]:.0f} s',
          flush=True)
    return record


def summarise(values: List[float]) -> Dict[str, float]:
    """Mean, standard deviation (ddof 1; 0 for one value), min and max."""
    v = np.asarray(values, dtype=np.float64)
    return dict(mean=float(v.mean()), std=float(v.std(ddof=1)) if v.size > 1 else 0.0,
                min=float(v.min()), max=float(v.max()), n=int(v.size))


def attribute_group_keys(records: Dict[str, List[dict]]) -> List[str]:
    keys = set()
    for runs in records.values():
        for r in runs:
            keys |= {k for k in r['metrics'] if k.startswith('attributes/')
                     and k.endswith('_unseen')}
    return sorted(keys, key=lambda k: (k == 'attributes/mean_unseen', k))


def fmt(stat: Optional[Dict[str, float]], scale: float = 1.0, digits: int = 1) -> str:
    if stat is None:
        return '-'
    return (f'{stat["mean"] * scale:.{digits}f} ± {stat["std"] * scale:.{digits}f} '
            f'({stat["min"] * scale:.{digits}f}–{stat["max"] * scale:.{digits}f})')


def stats_of(runs: List[dict], key: str) -> Optional[Dict[str, float]]:
    values = [r['metrics'][key] for r in runs if key in r['metrics']]
    return summarise(values) if values else None


def write_figure(experiment: str, records: Dict[str, List[dict]], path: str) -> None:
    """Bars of the mean T1 / U / S / H per variant with each seed as a dot."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    variants = [(k, label) for k, label, _ in EXPERIMENTS[experiment]
                if k in records and k not in ATTENTION_ONLY]
    metrics = MAIN_METRICS[:4]
    fig, ax = plt.subplots(figsize=(8, 4.4))
    width = 0.8 / len(variants)
    for i, (key, label) in enumerate(variants):
        xs = np.arange(len(metrics)) + (i - (len(variants) - 1) / 2) * width
        values = [[r['metrics'][m] for r in records[key]] for m, _ in metrics]
        ax.bar(xs, [np.mean(v) for v in values], width * 0.9, label=label)
        for x, v in zip(xs, values):
            ax.plot([x] * len(v), v, 'k.', markersize=3)
    ax.set_xticks(np.arange(len(metrics)), [name for _, name in metrics])
    ax.set_ylabel('accuracy (%)')
    ax.set_ylim(0, 100)
    ax.set_title(f'{experiment}: mean over seeds (dots: single seeds)')
    ax.legend(fontsize=7, loc='upper center', bbox_to_anchor=(0.5, -0.08), ncol=2)
    # the legend hangs below the axes: grow the saved image to hold all of it
    fig.savefig(path, dpi=120, bbox_inches='tight')
    plt.close(fig)


def write_report(args, records: Dict[str, List[dict]], path: str) -> List[str]:
    """The Markdown report; returns the criteria lines (also printed). An experiment with
    ``calibrate = True`` gets the methods report instead (:func:`write_methods_report`)."""
    exp = args.experiment
    if SETTINGS[exp]['calibrate']:
        return write_methods_report(args, records, path)
    entries = [(k, label, cfg) for k, label, cfg in EXPERIMENTS[exp] if k in records]
    groups = attribute_group_keys(records)
    lines = [f'<!-- written by tools/run_ablation.py {exp}; edit the text around the tables in '
             'docs/results.md, not here -->',
             f'# Synthetic-data experiment: {exp}', '',
             f'Report written by `python tools/run_ablation.py {" ".join(sys.argv[1:])}` on '
             f'{datetime.date.today()} ({platform.processor() or platform.machine()}, '
             f'{os.cpu_count()} CPUs, torch {_torch_version()}); seeds '
             f'{sorted({r["seed"] for runs in records.values() for r in runs})}; each run '
             f'trained with {_threads(records)} thread(s). Wall times are per run and depend on '
             'what else ran on the machine at the time.', '',
             'Mean ± standard deviation (min–max) over seeds. T1: ZSL top-1 on unseen classes; '
             'U / S / H: GZSL at gamma 0 (no calibration); AUROC: the selector\'s for background '
             'units; attention AUROC: the same for the attention rollout of the model\'s ViT on '
             'the full image (for the mmpretrain baselines, measured by loading their fine-tuned '
             'ViT into a 0-epoch SVIP model: `attention_probe/` in the run\'s folder); per-class '
             'mean accuracies in %.', '',
             '| variant | ' + ' | '.join(name for _, name in MAIN_METRICS) + ' | wall (s) |',
             '|---|' + '---|' * (len(MAIN_METRICS) + 1)]
    for key, label, _ in entries:
        runs = records[key]
        cells = [fmt(stats_of(runs, m), digits=3 if m.startswith('selection') else 1)
                 if key not in ATTENTION_ONLY or m == 'selection/attention_auroc' else '-'
                 for m, _ in MAIN_METRICS]
        lines.append(f'| {label} | ' + ' | '.join(cells) +
                     f' | {summarise([r["wall_s"] for r in runs])["mean"]:.0f} |')
    if groups:
        names = [g[len('attributes/'):-len('_unseen')] for g in groups]
        lines += ['', 'Attribute accuracy per group on unseen-class images (argmax within the '
                  'group against the class\'s value; %):', '',
                  '| variant | ' + ' | '.join(names) + ' |', '|---|' + '---|' * len(names)]
        for key, label, _ in entries:
            if key not in ATTENTION_ONLY:
                lines.append(f'| {label} | ' + ' | '.join(fmt(stats_of(records[key], g))
                                                           for g in groups) + ' |')
    criteria = []
    for text, a, b, metric, least in CRITERIA[exp]:
        if a not in records or b not in records:
            continue
        diff = stats_of(records[a], metric)['mean'] - stats_of(records[b], metric)['mean']
        line = f'- {text}: {diff:+.1f} -> {"met" if diff >= least else "NOT met"}'
        by_seed_a = {r['seed']: r['metrics'][metric] for r in records[a]}
        by_seed_b = {r['seed']: r['metrics'][metric] for r in records[b]}
        seeds = sorted(set(by_seed_a) & set(by_seed_b))
        if seeds:
            diffs = [by_seed_a[s] - by_seed_b[s] for s in seeds]
            every = 'every seed positive' if min(diffs) > 0 else 'NOT every seed positive'
            line += ('; per seed ' + ', '.join(f'{s}: {d:+.1f}' for s, d in zip(seeds, diffs))
                     + f' ({every})')
        criteria.append(line)
    for text, key, metric, least in ABSOLUTE_CRITERIA.get(exp, []):
        stat = stats_of(records.get(key, []), metric)
        if stat is not None:
            criteria.append(f'- {text}: mean {stat["mean"]:.3f} -> '
                            f'{"met" if stat["mean"] >= least else "NOT met"}')
    lines += ['', '## Criteria (difference of the means; per seed where both ran)', ''] + criteria
    lines += ['', '## Runs', '',
              '| variant | config | seed | T1 | U | S | H | AUROC | attention AUROC | wall (s) |',
              '|---|---|---|---|---|---|---|---|---|---|']
    for key, label, cfg in entries:
        for r in sorted(records[key], key=lambda r: r['seed']):
            m = r['metrics']
            auroc = m.get('selection/selector_auroc')
            attn = m.get('selection/attention_auroc')
            cfg_note = (f'`{cfg}`' + (' (re-evaluated)' if 'retested_from' in r else '')
                        + (' (resumed)' if r.get('attempts', 1) > 1 else ''))
            scores = ('- | - | - | - | -' if key in ATTENTION_ONLY else
                      f'{m["zsl/top1"]:.1f} | {m["gzsl/U"]:.1f} | {m["gzsl/S"]:.1f} | '
                      f'{m["gzsl/H"]:.1f} | {"-" if auroc is None else f"{auroc:.3f}"}')
            lines.append(f'| {label} | {cfg_note} | {r["seed"]} | {scores} | '
                         f'{"-" if attn is None else f"{attn:.3f}"} | {r["wall_s"]:.0f} |')
    if any('retested_from' in r for runs in records.values() for r in runs):
        lines += ['', '(re-evaluated): trained with an earlier version of the config that differed '
                  'at test time only, then evaluated with the current one (`--retest`).']
    if any(r.get('attempts', 1) > 1 for runs in records.values() for r in runs):
        lines += ['', '(resumed): an earlier attempt stopped after its last checkpoint; the run '
                  'was resumed from it, and its wall time adds up the attempts '
                  '(`attempts.json` in its folder).']
    figure = osp.splitext(path)[0] + '.png'
    write_figure(exp, records, figure)
    lines += ['', f'![{exp}]({osp.basename(figure)})', '']
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    return criteria


#: the methods table's columns after the label: (key of :func:`method_values`, header,
#: decimals); the test-tuned ones say so in their header
METHOD_COLUMNS = [
    ('zsl/top1', 'ZSL T1', 1), ('gzsl/U', 'U (γ 0)', 1), ('gzsl/S', 'S (γ 0)', 1),
    ('gzsl/H', 'H (γ 0)', 1), ('calibrated/H', 'H, calibrated γ', 1),
    ('calibrated/gamma', 'calibrated γ', 2),
    ('oracle/H', 'oracle H (test-tuned γ)', 1),
    ('official/H', 'official H (test-tuned γ, per-sample)', 1),
    ('wall/train', 'training (s)', 0), ('wall/calibration', 'calibration (s)', 0)]


def method_values(runs: List[dict]) -> Dict[str, List[float]]:
    """Column key of :data:`METHOD_COLUMNS` -> the per-run values of a variant's runs (a run
    without the value, e.g. not calibrated, adds nothing to that column)."""
    values: Dict[str, List[float]] = {key: [] for key, _, _ in METHOD_COLUMNS}
    for r in runs:
        flat = dict(r['metrics'], **{'wall/train': r['wall_s']})
        cal = r.get('calibrated')
        if cal:
            flat.update({'calibrated/H': cal['H'], 'calibrated/gamma': cal['gamma'],
                         'wall/calibration': cal['wall_s']})
        for key in values:
            if key in flat:
                values[key].append(float(flat[key]))
    return values


def write_methods_report(args, records: Dict[str, List[dict]], path: str) -> List[str]:
    """The report of a calibrated methods comparison (``calibrate = True``).

    Per regime of the data file, a table of the methods (:data:`METHOD_COLUMNS`: the honest
    figures, the test-tuned ones labelled as such, the wall times), then the paired per-seed
    differences of each method against the regime's reference, for H at gamma 0 and the
    calibrated H, with the inside-the-seed-spread judgement
    (:mod:`svip_mm.evaluation.comparison`); the per-run rows. Returns the difference lines
    (also printed).
    """
    from svip_mm.evaluation.comparison import (TRANSDUCTIVE_MARK, format_methods_rows,
                                               format_paired_difference, paired_difference)
    exp = args.experiment
    settings = SETTINGS[exp]
    labels = {k: label for k, label, _ in EXPERIMENTS[exp]}
    entries = [(k, label, cfg) for k, label, cfg in EXPERIMENTS[exp] if k in records]
    regimes: List[Optional[str]] = []
    for k, _, _ in entries:
        if settings['regime'].get(k) not in regimes:
            regimes.append(settings['regime'].get(k))
    lines = [f'<!-- written by tools/run_ablation.py {exp}; edit the text around the tables in '
             'docs/results.md, not here -->',
             f'# Methods under one protocol: {exp}', '',
             f'Report written by `python tools/run_ablation.py {" ".join(sys.argv[1:])}` on '
             f'{datetime.date.today()} ({platform.processor() or platform.machine()}, '
             f'{os.cpu_count()} CPUs, torch {_torch_version()}); seeds '
             f'{sorted({r["seed"] for runs in records.values() for r in runs})}; each run '
             f'trained with {_threads(records)} thread(s). Wall times are per run and depend on '
             'what else ran on the machine at the time.', '',
             'Mean ± standard deviation over seeds (sample std), per-class mean accuracies in %. '
             'Honest figures: ZSL T1 (unseen classes only); U / S / H at gamma 0 (no '
             'calibration); H at the calibrated gamma, chosen without the test set '
             '(`tools/calibrate.py` with its defaults: a model of the same config trained on '
             'the train_loc classes minus 20% held-out images, held-out seed 0, training seed = '
             'the run\'s; gamma swept on val_loc images as pseudo-unseen and the held-out '
             'images as pseudo-seen; docs/calibration.md), and that gamma. **Test-tuned** '
             '(how the compared papers report; an upper bound, never a result): oracle H, the '
             'best per-class H over gamma in [-1, 1) on the test set itself; official H, the '
             'same with per-sample accuracy (the official SVIP evaluation). Wall times: the '
             'run (training and its test) and its calibration (the four steps above) '
             'separately.']
    if settings['transductive'] & set(records):
        lines += ['', f'{TRANSDUCTIVE_MARK.strip()}: the method reads the unseen classes\' '
                  'attribute vectors in training (not zero-shot in the strict sense); its '
                  'inductive variant, where there is one, is the fair comparison.']
    differences = []
    for regime in regimes:
        keys = [k for k, _, _ in entries if settings['regime'].get(k) == regime]
        methods = [dict(label=labels[k], transductive=k in settings['transductive'],
                        values=method_values(records[k])) for k in keys]
        lines += ['', f'## {regime}' if regime else '## Methods', '']
        lines += format_methods_rows(methods, METHOD_COLUMNS)
        pairs = []
        for k in keys:
            ref = settings['reference'].get(k)
            if ref is None or ref == k or ref not in records:
                continue
            for metric, name in [('gzsl/H', 'H at gamma 0'), ('calibrated/H', 'calibrated H')]:
                a = _per_seed(records[k], metric)
                b = _per_seed(records[ref], metric)
                if set(a) & set(b):
                    pairs.append(format_paired_difference(
                        f'{labels[k]} - {labels[ref]}, {name}', paired_difference(a, b)))
        if pairs:
            ref_label = labels[settings['reference'][keys[0]]]
            lines += ['', f'Paired per-seed differences against {ref_label} '
                      '(mean ± sample std, range, per seed). Inside the seed spread: |mean '
                      'difference| <= the larger of the two methods\' seed std over the same '
                      'seeds, i.e. no larger than a method moves from seed to seed: not a '
                      'result.', ''] + pairs
            differences += pairs
    lines += ['', '## Runs', '',
              '| variant | config | seed | T1 | U | S | H | γ | U cal | S cal | H cal | '
              'oracle H (test-tuned) | official H (test-tuned) | training (s) | '
              'calibration (s) |',
              '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for key, label, cfg in entries:
        for r in sorted(records[key], key=lambda r: r['seed']):
            m, cal = r['metrics'], r.get('calibrated') or {}
            cells = [_cell(m.get('zsl/top1')), _cell(m.get('gzsl/U')), _cell(m.get('gzsl/S')),
                     _cell(m.get('gzsl/H')), _cell(cal.get('gamma'), 2), _cell(cal.get('U')),
                     _cell(cal.get('S')), _cell(cal.get('H')), _cell(m.get('oracle/H')),
                     _cell(m.get('official/H')), _cell(r['wall_s'], 0),
                     _cell(cal.get('wall_s'), 0)]
            mark = TRANSDUCTIVE_MARK if key in settings['transductive'] else ''
            lines.append(f'| {label}{mark} | `{cfg}` | {r["seed"]} | ' + ' | '.join(cells)
                         + ' |')
    with open(path, 'w') as f:
        f.write('\n'.join(lines + ['']))
    return differences


def _per_seed(runs: List[dict], metric: str) -> Dict[int, float]:
    """seed -> the metric (``calibrated/H``: the calibrated record's H) of the runs that have
    it."""
    out = {}
    for r in runs:
        if metric == 'calibrated/H':
            if r.get('calibrated'):
                out[r['seed']] = r['calibrated']['H']
        elif metric in r['metrics']:
            out[r['seed']] = r['metrics'][metric]
    return out


def _cell(value: Optional[float], digits: int = 1) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def _threads(records: Dict[str, List[dict]]) -> str:
    return '/'.join(str(t) for t in sorted({r.get('threads', '?') for runs in records.values()
                                             for r in runs}, key=str))


def _torch_version() -> str:
    import torch
    return torch.__version__


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('experiment', choices=sorted(EXPERIMENTS))
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
    entries = EXPERIMENTS[args.experiment]
    if args.only:
        unknown = set(args.only) - {k for k, _, _ in entries}
        if unknown:
            raise SystemExit(f'--only: unknown variants {sorted(unknown)}; the {args.experiment} '
                             f'experiment has {[k for k, _, _ in entries]}')
        entries = [e for e in entries if e[0] in args.only]
    # data first, once per config, so parallel runs never generate the same files
    from mmengine.config import Config, DictAction
    from svip_mm.engine import prepare_data
    option_parser = argparse.ArgumentParser()
    option_parser.add_argument('--o', nargs='+', action=DictAction, default={})
    options = option_parser.parse_args(['--o', *args.cfg_options] if args.cfg_options else []).o
    for _, _, cfg_path in entries:
        cfg = Config.fromfile(osp.join(REPO, cfg_path))
        cfg.merge_from_dict(options)
        prepare_data(cfg)
    jobs = [(key, cfg, seed) for key, _, cfg in entries for seed in args.seeds]
    extra = list(args.cfg_options)

    def work(job):
        key, cfg, seed = job
        run_dir = osp.abspath(osp.join(args.work_dir, key, f'seed{seed}'))
        record = run_one(cfg, seed, run_dir, args.threads, extra,
                         allow_retest=key in args.retest)
        if key in ATTENTION_PROBE:
            record = probe_attention(record, ATTENTION_PROBE[key], run_dir, args.threads)
        # an attention-only variant is not trained: there is nothing to calibrate
        if SETTINGS[args.experiment]['calibrate'] and key not in ATTENTION_ONLY:
            record = calibrate_run(record, cfg, run_dir, args.threads, extra)
        return key, record

    records: Dict[str, List[dict]] = {}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for key, record in pool.map(work, jobs):
            records.setdefault(key, []).append(record)
    os.makedirs(osp.dirname(osp.abspath(args.report)), exist_ok=True)
    for line in write_report(args, records, args.report):
        print(line)
    print(f'report: {args.report}')


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
