"""The calibration of a finished run (:func:`calibrate_run`): gamma chosen without the test
set in four subprocesses, each a step that is reused once finished, then the run tested at it.
"""
import json
import os
import os.path as osp
import sys
import time
from typing import List

from ..utils.repository import REPO
from .runs import call_tool

#: the held-out choice of every calibration (tools/calibrate.py prepare --seed): one split for
#: every run, as the rule of docs/results.md ("Calibrated") fixed it
CALIBRATION_HOLDOUT_SEED = 0


def _run_step(state: dict, state_file: str, name: str, cmd: List[str], log_file: str,
              threads: int, what: str) -> None:
    """Run one calibration step (a subprocess), add its wall time and attempt to ``state``
    (saved to ``state_file``), mark it done; a failure is an error naming its log."""
    step = state['steps'].setdefault(name, {})
    step.setdefault('wall_s', 0.0)
    step.setdefault('attempts', 0)
    if osp.isfile(log_file):  # an earlier attempt's output stays as <log>.<n>
        os.replace(log_file, f'{log_file}.{step["attempts"]}')
    start = time.time()
    code = call_tool(cmd, log_file, threads)
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
