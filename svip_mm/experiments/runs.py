"""One run of an experiment: a config trained and tested with one seed, in its own process.

A run lives in its own folder (``<work dir>/<variant key>/seed<seed>``) and is
``tools/train.py CONFIG --cfg-options randomness.seed=SEED`` there; the test metrics are
read from the run's MMEngine JSON log and stored with what the run was made from in
``result.json`` (:func:`run_one`). A finished run is reused when it was made from the same
resolved config (:func:`file_digest`), options and pretrained backbone
(:func:`pretraining_digests`); one made from anything else is an error, never overwritten,
so an interrupted experiment continues where it stopped. Two additions to a finished run:
:func:`retest` (the config changed at test time only) and :func:`probe_attention` (the
attention AUROC of its fine-tuned ViT).
"""
import glob
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List

from mmengine.config import Config

from ..engine.pretrained_backbone import step_digest
from ..utils.repository import REPO


def thread_env(threads: int) -> Dict[str, str]:
    """The environment of a run's subprocess: this process's, with ``threads`` OpenMP and
    MKL threads (runs side by side must not each take every core)."""
    return dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


def call_tool(cmd: List[str], log_file: str, threads: int) -> int:
    """Run a tool's command line in the repository with ``threads`` threads, its output
    (stdout and stderr) written to ``log_file``; returns the exit code."""
    with open(log_file, 'w') as log:
        return subprocess.call(cmd, cwd=REPO, env=thread_env(threads), stdout=log,
                               stderr=subprocess.STDOUT)


def file_digest(path: str) -> str:
    """sha1 of the resolved config (with its ``_base_`` files merged): a change to what the
    config says invalidates runs; a comment or a reformatting does not."""
    digest = hashlib.sha1()
    cfg = Config.fromfile(path)
    digest.update(cfg.pretty_text.encode())
    return digest.hexdigest()[:12]


def pretraining_digests(path: str) -> Dict[str, str]:
    """``out`` -> digest of each ``pretrained_backbone`` data-preparation step of the config:
    what its pretrained backbone is made from. The config's own digest (:func:`file_digest`)
    names the step's config file, not its content, so an edited pretraining config would
    otherwise leave the fine-tuning runs looking reusable."""
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
    print(f'retest {cfg_path} {checkpoint} (the config changed since it was trained)',
          flush=True)
    os.makedirs(test_dir, exist_ok=True)
    code = call_tool(cmd, osp.join(test_dir, 'test.out'), threads)
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

    ``cfg_path`` is relative to the repository (``svip_mm.utils.repository.REPO``), ``extra`` the
    run's ``--cfg-options`` after the seed. An existing record of the same config and options
    is reused. One made with another config is an error, unless ``allow_retest``: then its
    checkpoint is evaluated again with the current config (:func:`retest`) and the record is
    rewritten (the old one is kept as ``result.<old digest>.json``)."""
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
    print(f'{"resume" if resume else "start "} {cfg_path} seed {seed} -> {work_dir}', flush=True)
    start = time.time()
    code = call_tool(cmd, out_file, threads)
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
    os.makedirs(probe_dir, exist_ok=True)
    code = call_tool(cmd, osp.join(probe_dir, 'probe.out'), threads)
    if code != 0:
        raise RuntimeError(f'attention probe of {checkpoint} failed with exit code {code}; see '
                           f'{osp.join(probe_dir, "probe.out")}')
    auroc = read_test_metrics(probe_dir)['selection/attention_auroc']
    record = dict(record, attention_probe=probe_cfg,
                  metrics=dict(record['metrics'], **{'selection/attention_auroc': auroc}))
    with open(osp.join(work_dir, 'result.json'), 'w') as f:
        json.dump(record, f, indent=1)
    return record
