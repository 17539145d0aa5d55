"""The ``pretrained_backbone`` data-preparation step: pretrain a ViT, keep its backbone.

A config that starts from a backbone pretrained by another config of this repository lists
the step before the others and loads the file through the backbone's ``init_cfg``::

    pretrained = 'data/pretrained/vit_synthetic_source_seed0.pth'
    data_preparation = [
        dict(type='pretrained_backbone', config='configs/pretrain/vit_synthetic_source.py',
             seed=0, out=pretrained),
        ...
    ]
    model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

Step keys: ``config`` (the pretraining config), ``out`` (the weight file), ``seed`` (the
pretraining's ``randomness.seed``, default 0; independent of the run's own seed, as one set
of ImageNet weights serves every fine-tuning seed), ``cfg_options`` (a dict of dotted keys,
or nested dicts, for the pretraining config, passed as ``--cfg-options``), ``work_dir`` (default
``work_dirs/pretrain/<config name>``).

What it does (:func:`prepare_pretrained_backbone`):

* The *digest* is the SHA-256 of the pretraining config as the run resolves it (the file with
  its bases, ``cfg_options`` and ``randomness.seed`` applied) and of the seed.
* ``out`` exists and its meta records this step and the same digest: nothing runs.
* Otherwise ``python tools/train.py CONFIG --work-dir <work_dir>/seed<S>_<digest[:10]>
  --no-test --cfg-options randomness.seed=S ...`` runs in a subprocess (its log is that of a
  normal run; a run of the same digest interrupted earlier is continued with ``--resume``).
  The ``backbone.*`` tensors of its final checkpoint, without the prefix (mmpretrain's
  ``VisionTransformer`` layout), are saved to ``out`` as ``{'state_dict': ..., 'meta': ...}``
  through a temporary file and a rename, so ``out`` is never half-written.
* A file at ``out`` that this step did not write (no meta saying so, or not a checkpoint) is
  never replaced: :class:`FileExistsError`. One this step wrote for another digest is
  replaced once the new weights are ready.
* Rank 0 does the work (``prepare_data`` runs the steps on rank 0 first); other ranks only
  check that the file is there. Two processes preparing the same ``out`` (e.g. two runs of an
  experiment started together) take turns: the second finds the first one's file.
"""
import argparse
import datetime
import fcntl
import functools
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
from contextlib import contextmanager
from typing import Any, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import get_dist_info
from mmengine.logging import print_log

from ..utils.atomic_write import write_atomic
from ..utils.repository import REPO

#: The meta's ``written_by``: what marks a file at ``out`` as this step's (replaceable).
WRITER = 'svip_mm.pretrained_backbone'
#: Bumped when the file's content changes for the same config, so old files are redone.
FORMAT_VERSION = 1
_KEYS = {'config', 'out', 'seed', 'cfg_options', 'work_dir'}
# variables of a distributed launch: the pretraining subprocess is a single-process run
_DIST_ENV = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE', 'GROUP_RANK',
             'ROLE_RANK', 'ROLE_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT',
             'TORCHELASTIC_RUN_ID', 'TORCHELASTIC_RESTART_COUNT', 'TORCHELASTIC_MAX_RESTARTS')


def _cli_value(key: str, value: Any) -> str:
    """``value`` as ``--cfg-options`` writes it (DictAction parses it back)."""
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_cli_value(key, v) for v in value) + ']'
    if isinstance(value, dict):
        raise ValueError(f'pretrained_backbone step: cfg_options[{key!r}] holds a dict inside a '
                         'list; expected dotted keys to plain values or lists of them')
    return str(value)


def _flatten(options: Dict[str, Any], prefix: str = '') -> Dict[str, Any]:
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}`` (also what ``--cfg-options
    data_preparation.0.cfg_options.a.b=1`` makes of a dotted key)."""
    flat = {}
    for key, value in options.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def _cli_options(seed: int, cfg_options: Dict[str, Any]) -> List[str]:
    return [f'randomness.seed={seed}'] + [f'{k}={_cli_value(k, v)}'
                                          for k, v in _flatten(cfg_options).items()]


def resolve_pretraining_config(config: str, options: List[str]) -> Config:
    """The config ``tools/train.py CONFIG --cfg-options OPTIONS`` trains with (the options
    parsed by the same ``DictAction``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parsed = parser.parse_args(['--cfg-options', *options]).cfg_options
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parsed)
    return cfg


def config_digest(cfg: Config, seed: int) -> str:
    """SHA-256 of the resolved config (canonical JSON) and the seed."""
    text = json.dumps(dict(config=cfg.to_dict(), seed=seed, format=FORMAT_VERSION),
                      sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def read_meta(path: str) -> Optional[Dict[str, Any]]:
    """The meta of a file this step wrote; None for anything else (including unreadable
    files and checkpoints of other origin)."""
    from ..utils.safe_checkpoint import load_checkpoint_file
    try:
        obj = load_checkpoint_file(path, map_location='cpu')
    except Exception:  # a foreign file of any kind: not ours
        return None
    meta = obj.get('meta') if isinstance(obj, dict) else None
    if isinstance(meta, dict) and meta.get('written_by') == WRITER:
        return meta
    return None


@contextmanager
def _directory_lock(directory: str):
    """Hold an exclusive ``flock`` on ``directory`` (no lock file left behind)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _train_script() -> str:
    script = osp.join(REPO, 'tools', 'train.py')
    if not osp.isfile(script):
        raise FileNotFoundError(f'pretrained_backbone step: {script} not found; expected the '
                                'repository checkout of svip_mm (pip install -e .)')
    return script


def _source_data(cfg: Config) -> Optional[Dict[str, Any]]:
    """The generator parameters of the pretraining's training set, if it is synthetic."""
    ds = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    if ds.get('type') != 'ZSLSynthetic':
        return None
    from svip_mm.datasets.synthetic_dataset import default_synthetic_root
    from svip_mm.datasets.synthetic_zsl import load_synthetic_meta
    root = ds.get('data_root') or default_synthetic_root(ds.get('preset'), ds.get('seed'),
                                                        ds.get('clutter'))
    meta = load_synthetic_meta(root)
    return dict(data_root=root, params=meta['params'] if meta else None)


def _final_checkpoint(run_dir: str, max_epochs: int) -> Tuple[str, Dict[str, Any]]:
    from .latest_checkpoint import latest_checkpoint
    from ..utils.safe_checkpoint import load_checkpoint_file
    path = latest_checkpoint(run_dir)
    ckpt = load_checkpoint_file(path, map_location='cpu')
    epoch = (ckpt.get('meta') or {}).get('epoch')
    if epoch != max_epochs:
        raise RuntimeError(f'pretrained_backbone step: {path} is of epoch {epoch}; expected the '
                           f'final epoch {max_epochs} (train_cfg.max_epochs)')
    return path, ckpt


def _write_atomic(out: str, payload: Dict[str, Any]) -> None:
    # the temporary name keeps '.<name>' before its last dot, so the folder torch.save names
    # inside the zip file is the same in every run (see temporary_name)
    write_atomic(out, functools.partial(torch.save, payload))


def _resolve_step(step: Dict[str, Any]) -> Tuple[str, str, int, List[str], Config, str]:
    """A checked step -> (config, out, seed, --cfg-options, resolved pretraining config, digest)."""
    unknown = sorted(set(step) - _KEYS)
    missing = sorted({'config', 'out'} - set(step))
    if unknown or missing:
        raise ValueError(f'pretrained_backbone step: unknown keys {unknown}, missing keys '
                         f'{missing}; expected config and out, optionally {sorted(_KEYS)}')
    config, out = step['config'], step['out']
    seed = step.get('seed', 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f'pretrained_backbone step: seed={seed!r}; expected an integer >= 0')
    if not osp.isfile(config):
        raise FileNotFoundError(f'pretrained_backbone step: config {config!r} not found')
    options = _cli_options(seed, dict(step.get('cfg_options') or {}))
    pre_cfg = resolve_pretraining_config(config, options)
    return config, out, seed, options, pre_cfg, config_digest(pre_cfg, seed)


def step_digest(step: Dict[str, Any]) -> str:
    """The digest of the backbone a ``pretrained_backbone`` step makes (its pretraining config
    resolved as the step runs it, and the seed): what a fine-tuning run started from. Paths in
    the step are relative to the working directory, as when the step runs."""
    return _resolve_step(step)[-1]


def prepare_pretrained_backbone(step: Dict[str, Any], cfg=None) -> str:
    """Run the ``pretrained_backbone`` step (see the module docstring); returns ``out``.

    Raises:
        ValueError: a missing or unknown step key.
        FileExistsError: ``out`` holds a file this step did not write.
        RuntimeError: the pretraining failed (exit code, command and work dir named), or its
            last checkpoint is not of the final epoch, or it has no ``backbone.`` weights.
    """
    config, out, seed, options, pre_cfg, digest = _resolve_step(step)
    stem = osp.splitext(osp.basename(config))[0]
    run_dir = osp.join(step.get('work_dir') or osp.join('work_dirs', 'pretrain', stem),
                       f'seed{seed}_{digest[:10]}')

    rank, _ = get_dist_info()
    if rank != 0:  # rank 0 has prepared it (prepare_data runs it first)
        meta = read_meta(out) if osp.isfile(out) else None
        if meta is None or meta.get('digest') != digest:
            raise RuntimeError(f'pretrained_backbone step (rank {rank}): {out} is not the '
                               f'backbone of {config} seed {seed}; expected rank 0 to have '
                               'written it')
        return out

    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with _directory_lock(osp.dirname(osp.abspath(out))):
        if osp.lexists(out):
            meta = read_meta(out) if osp.isfile(out) else None
            if meta is None:
                raise FileExistsError(
                    f'pretrained_backbone step: {out} exists and was not written by this step '
                    f"(no meta with written_by={WRITER!r}); it is left as it is. Expected no "
                    'file there or one this step wrote: move it, or set the step\'s out to '
                    'another path')
            if meta.get('digest') == digest:
                print_log(f'pretrained_backbone: {out} is the backbone of {config} seed {seed} '
                          f'(digest {digest[:10]}); nothing to do', logger='current')
                return out
            print_log(f'pretrained_backbone: {out} was written for another config or seed '
                      f"(digest {str(meta.get('digest'))[:10]}, now {digest[:10]}); pretraining "
                      'again, the file is replaced when the new weights are ready',
                      logger='current')
        _pretrain(config, options, seed, run_dir, out, pre_cfg, digest)
    return out


def _pretrain(config: str, options: List[str], seed: int, run_dir: str, out: str,
              pre_cfg: Config, digest: str) -> None:
    from .latest_checkpoint import numbered_checkpoints
    max_epochs = pre_cfg.train_cfg.max_epochs
    done = numbered_checkpoints(run_dir)
    if max_epochs in done:  # the same config and seed trained before (run_dir is per digest)
        print_log(f'pretrained_backbone: {run_dir} holds the final checkpoint of {config} seed '
                  f'{seed}; using it', logger='current')
    else:
        cmd = [sys.executable, _train_script(), config, '--work-dir', run_dir, '--no-test']
        if done or osp.isfile(osp.join(run_dir, 'last_checkpoint')):
            cmd.append('--resume')  # an interrupted run of the same config and seed
        cmd += ['--cfg-options', *options]
        env = {k: v for k, v in os.environ.items() if k not in _DIST_ENV}
        print_log(f'pretrained_backbone: pretraining {config} seed {seed} for {out}; logs and '
                  f'checkpoints in {run_dir}: {" ".join(cmd)}', logger='current')
        code = subprocess.call(cmd, env=env)
        if code != 0:
            raise RuntimeError(f'pretrained_backbone step: the pretraining failed (exit code '
                               f'{code}): {" ".join(cmd)}; see the log in {run_dir}')
    path, ckpt = _final_checkpoint(run_dir, max_epochs)
    state = {k[len('backbone.'):]: v.detach().clone().contiguous()
             for k, v in ckpt['state_dict'].items() if k.startswith('backbone.')}
    if not state:
        raise RuntimeError(f'pretrained_backbone step: {path} holds no backbone.* weights; '
                           f'expected a classifier with a backbone (e.g. ImageClassifier)')
    meta = dict(written_by=WRITER, format=FORMAT_VERSION, digest=digest, seed=seed,
                config=config, cfg_options=options[1:], checkpoint=path, epoch=max_epochs,
                source_data=_source_data(pre_cfg),
                created=datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec='seconds'))
    _write_atomic(out, dict(state_dict=state, meta=meta))
    print_log(f'pretrained_backbone: wrote {len(state)} backbone tensors of {path} to {out}',
              logger='current')
