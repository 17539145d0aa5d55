"""Nothing silently wrong, nothing lost: strict loading of checkpoints for test, resume and
load_from; --resume finds the latest checkpoint or stops; a run never overwrites checkpoints
it did not write; one training run per work dir."""
import copy
import hashlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

import svip_mm  # noqa: F401
from svip_mm.engine.checkpoint_hook import (CheckpointMismatchError, CheckpointOverwriteError,
                                            weight_mismatch)
from svip_mm.engine.latest_checkpoint import checkpoints_after, latest_checkpoint
from svip_mm.engine.work_dir_lock import (LOCK_NAME, WorkDirLockedError, lock_work_dir,
                                          unlock_work_dir)
from repo import REPO
from tool_process import run_tool


@pytest.fixture
def trained(tiny_trained):
    base, cfg, ckpt = tiny_trained
    return base, cfg, ckpt




def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _edited(ckpt: Path, out: Path, edit) -> Path:
    c = torch.load(ckpt, weights_only=True)
    edit(c['state_dict'])
    torch.save(c, out)
    return out


# ----------------------------------------------------------------------------- strict loading
def test_weight_mismatch_lists_each_kind():
    model = {'a': (2, 3), 'b': (4, ), 'head.seen_mask': (40, )}
    ckpt = {'a': (3, 3), 'c': (1, )}
    missing, unexpected, wrong = weight_mismatch(model, ckpt, exempt=['head.seen_mask'])
    assert missing == ['b'] and unexpected == ['c'] and wrong == ['a [3, 3] (model: [2, 3])']


EDITS = {
    'missing': (lambda sd: sd.pop('head.fc.weight'), 'missing (1): head.fc.weight'),
    'unexpected': (lambda sd: sd.__setitem__('neck.extra', torch.zeros(2)),
                   'unexpected (1): neck.extra'),
    'wrong shape': (lambda sd: sd.__setitem__('head.fc.bias', torch.zeros(5)),
                    'wrong shape (1): head.fc.bias [5] (model: [12])'),
}


@pytest.mark.parametrize('kind', sorted(EDITS))
def test_test_tool_refuses_a_checkpoint_that_does_not_fit(trained, tmp_path, kind):
    base, _, ckpt = trained
    edit, listed = EDITS[kind]
    bad = _edited(ckpt, tmp_path / 'bad.pth', edit)
    proc = run_tool('test.py', base / 'tiny.py', bad, '--work-dir', tmp_path / 'w',
                 cwd=base)
    assert proc.returncode != 0
    assert listed in proc.stderr, proc.stderr[-3000:]
    assert 'Test of' not in proc.stdout  # no table to quote


def test_baseline_checkpoint_on_the_svip_config_is_refused(trained, tmp_path):
    """The reported case: another model's checkpoint used to give 'H 1.25' and exit 0."""
    base, cfg, _ = trained
    from mmpretrain.registry import MODELS
    from mmengine.config import Config
    baseline = Config.fromfile(str(REPO / 'configs/baseline_vit_synthetic.py')).model
    baseline.backbone.arch = dict(embed_dims=32, num_layers=2, num_heads=2,
                                  feedforward_channels=128)  # the tiny SVIP ViT's size
    baseline.head.in_channels = 32
    model = MODELS.build(baseline)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'baseline.pth')
    runner_cfg = copy.deepcopy(cfg)
    runner_cfg.work_dir, runner_cfg.load_from = str(tmp_path / 'w'), str(tmp_path / 'baseline.pth')
    with pytest.raises(CheckpointMismatchError, match=r'baseline\.pth does not fit.*missing'):
        Runner.from_cfg(runner_cfg).test()


def test_class_table_buffers_may_be_missing(trained, tmp_path):
    base, cfg, ckpt = trained

    def drop_table(sd):
        for key in ('head.class_attributes', 'head.seen_mask', 'head.attribute_group_ids'):
            sd.pop(key)
    slim = _edited(ckpt, tmp_path / 'slim.pth', drop_table)
    runner_cfg = copy.deepcopy(cfg)
    runner_cfg.work_dir, runner_cfg.load_from = str(tmp_path / 'w'), str(slim)
    metrics = Runner.from_cfg(runner_cfg).test()
    assert 0.0 <= metrics['gzsl/H'] <= 100.0


@pytest.mark.parametrize('how', ['resume', 'load_from'])
def test_training_refuses_a_checkpoint_that_does_not_fit(trained, tmp_path, how):
    base, cfg, ckpt = trained
    bad = _edited(ckpt, tmp_path / 'bad.pth', EDITS['missing'][0])
    runner_cfg = copy.deepcopy(cfg)
    runner_cfg.work_dir, runner_cfg.load_from = str(tmp_path / 'w'), str(bad)
    runner_cfg.resume = how == 'resume'
    with pytest.raises(CheckpointMismatchError, match='missing .1.: head.fc.weight'):
        Runner.from_cfg(runner_cfg).train()
    assert not (tmp_path / 'w/epoch_1.pth').exists()


# ---------------------------------------------------------------------------------- --resume
def test_latest_checkpoint_without_last_checkpoint_file(tmp_path):
    for n in (2, 10, 9):
        (tmp_path / f'epoch_{n}.pth').write_bytes(b'')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/moved/epoch_9.pth')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_9.pth')
    (tmp_path / 'last_checkpoint').write_text('/elsewhere/moved/epoch_7.pth')
    with pytest.raises(FileNotFoundError, match='epoch_7.pth'):
        latest_checkpoint(str(tmp_path))


def test_resume_finds_the_latest_checkpoint_without_last_checkpoint(trained, tmp_path):
    base, _, ckpt = trained
    work = tmp_path / 'w'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(ckpt.read_bytes())  # no last_checkpoint file
    before = _digest(work / 'epoch_1.pth')
    proc = run_tool('train.py', base / 'tiny.py', '--work-dir', work, '--resume',
                 '--no-test', '--cfg-options', 'train_cfg.max_epochs=2', cwd=base)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 1' in proc.stdout + proc.stderr
    assert (work / 'epoch_2.pth').is_file() and _digest(work / 'epoch_1.pth') == before


def test_resume_with_nothing_to_resume_stops(trained, tmp_path):
    base, _, _ = trained
    proc = run_tool('train.py', base / 'tiny.py', '--work-dir', tmp_path / 'w',
                 '--resume', cwd=base)
    assert proc.returncode != 0
    assert 'nothing to resume from' in proc.stderr and 'Traceback' not in proc.stderr


# --------------------------------------------------------------------- nothing overwritten
def test_a_new_run_never_overwrites_checkpoints_of_another(trained, tmp_path):
    base, cfg, ckpt = trained
    work = tmp_path / 'w'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(ckpt.read_bytes())
    before = _digest(work / 'epoch_1.pth')
    proc = run_tool('train.py', base / 'tiny.py', '--work-dir', work, '--no-test',
                 cwd=base)
    assert proc.returncode != 0
    assert 'would overwrite (epoch_1.pth' in proc.stderr and '--resume' in proc.stderr
    assert _digest(work / 'epoch_1.pth') == before


def test_resuming_an_earlier_checkpoint_keeps_the_later_ones(trained, tmp_path):
    base, cfg, ckpt = trained
    work = tmp_path / 'w'
    work.mkdir()
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        (work / name).write_bytes(ckpt.read_bytes())
    runner_cfg = copy.deepcopy(cfg)
    runner_cfg.work_dir, runner_cfg.train_cfg.max_epochs = str(work), 2
    runner_cfg.resume, runner_cfg.load_from = True, str(work / 'epoch_1.pth')
    with pytest.raises(CheckpointOverwriteError, match='epoch_2.pth'):
        Runner.from_cfg(runner_cfg).train()


# --------------------------------------------------------------------------- the work-dir lock
def test_lock_is_reentrant_in_one_process(tmp_path):
    lock_work_dir(str(tmp_path))
    lock_work_dir(str(tmp_path))
    unlock_work_dir(str(tmp_path))
    unlock_work_dir(str(tmp_path))


def test_second_run_in_a_work_dir_is_refused(trained, tmp_path):
    base, _, _ = trained
    work = tmp_path / 'w'
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys, time; sys.path.insert(0, sys.argv[2]); '
         'from svip_mm.engine.work_dir_lock import lock_work_dir; lock_work_dir(sys.argv[1]); '
         'print("locked", flush=True); time.sleep(120)', str(work), str(REPO)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        with pytest.raises(WorkDirLockedError, match=f'pid {holder.pid}'):
            lock_work_dir(str(work))
        proc = run_tool('train.py', base / 'tiny.py', '--work-dir', work, '--no-test',
                     cwd=base)
        assert proc.returncode != 0
        assert 'in use by another training run' in proc.stderr, proc.stderr[-3000:]
        assert not list(work.glob('*.pth')) and not list(work.glob('2*'))  # no log dir either
    finally:
        holder.kill()
        holder.wait()
    lock_work_dir(str(work))  # released when its holder died
    unlock_work_dir(str(work))


def test_a_killed_run_leaves_no_lock_behind_in_its_forked_workers(tmp_path):
    """Issue 21.5: DataLoader workers are forked from the training process; a lock they inherit
    must not outlive the run that took it (`kill -9` used to leave the work dir locked for as
    long as the orphaned workers lived)."""
    work = tmp_path / 'w'
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import os, sys, time; sys.path.insert(0, sys.argv[2]); '
         'from svip_mm.engine.work_dir_lock import lock_work_dir; lock_work_dir(sys.argv[1]); '
         'child = os.fork()\n'
         'if child == 0:\n    time.sleep(120); os._exit(0)\n'
         'print(child, flush=True); time.sleep(120)', str(work), str(REPO)],
        stdout=subprocess.PIPE, text=True)
    worker = int(holder.stdout.readline())
    try:
        with pytest.raises(WorkDirLockedError):  # held while the run lives
            lock_work_dir(str(work))
        holder.kill()  # SIGKILL: no cleanup in the run; its forked worker sleeps on
        holder.wait()
        os.kill(worker, 0)  # the worker is still alive
        lock_work_dir(str(work))
        unlock_work_dir(str(work))
    finally:
        os.kill(worker, signal.SIGKILL)
        holder.kill()
        holder.wait()


# ------------------------------------------------------------- a refused run leaves no trace
def _snapshot(work: Path) -> dict:
    """Every entry under ``work``: file bytes, or 'dir'; but the lock file, which is no run's
    record (a refused run takes the lock before it looks at the checkpoints)."""
    return {str(p.relative_to(work)): 'dir' if p.is_dir() else p.read_bytes()
            for p in work.rglob('*') if p.name != LOCK_NAME}


def test_a_refused_run_leaves_the_work_dir_as_it_was(trained, tmp_path):
    """Issue 21.6: the Runner used to write its config copy and log dir before the refusal,
    so the work dir's config no longer described its checkpoints."""
    base, _, _ = trained
    work = tmp_path / 'w'
    first = run_tool('train.py', base / 'tiny.py', '--work-dir', work, '--no-test',
                     '--cfg-options', 'train_cfg.max_epochs=2', cwd=base)
    assert first.returncode == 0, first.stderr[-3000:]
    before = _snapshot(work)
    assert 'tiny.py' in before and 'epoch_2.pth' in before
    again = run_tool('train.py', base / 'tiny.py', '--work-dir', work, '--no-test',
                     '--cfg-options', 'train_cfg.max_epochs=3', 'randomness.seed=1', cwd=base)
    assert again.returncode != 0
    assert 'would overwrite (epoch_1.pth, epoch_2.pth' in again.stderr, again.stderr[-3000:]
    assert _snapshot(work) == before
    earlier = run_tool('train.py', base / 'tiny.py', '--work-dir', work, '--no-test',
                       '--resume', work / 'epoch_1.pth', '--cfg-options',
                       'train_cfg.max_epochs=3', cwd=base)
    assert earlier.returncode != 0
    assert 'would overwrite (epoch_2.pth' in earlier.stderr, earlier.stderr[-3000:]
    assert _snapshot(work) == before


# ------------------------------------------------------------------ partial checkpoints
class _FileSizeLimitAtEpoch(Hook):
    """From the save of ``epoch``'s checkpoint on, no file may grow past half the size of the
    first checkpoint: the write of the checkpoint fails part-way, as on a full disk."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if runner.epoch + 1 == self.epoch:
            limit = os.path.getsize(os.path.join(runner.work_dir, 'epoch_1.pth')) // 2
            resource.setrlimit(resource.RLIMIT_FSIZE,
                               (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_a_failed_checkpoint_write_leaves_no_partial_checkpoint(trained, tmp_path):
    """Issue 21.7: a save cut off part-way (disk full) used to leave a partial epoch_N.pth,
    which then stopped --resume."""
    base, cfg, _ = trained
    work = tmp_path / 'w'
    runner_cfg = copy.deepcopy(cfg)
    runner_cfg.work_dir, runner_cfg.train_cfg.max_epochs = str(work), 2
    runner = Runner.from_cfg(runner_cfg)
    runner.register_hook(_FileSizeLimitAtEpoch(2))
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a core dump
    try:
        with pytest.raises(OSError):
            runner.train()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    unlock_work_dir(str(work))  # the failed run did not reach after_train
    assert (work / 'epoch_1.pth').is_file() and not (work / 'epoch_2.pth').exists()
    assert not [p.name for p in work.iterdir() if 'tmp' in p.name]
    assert latest_checkpoint(str(work)) == str(work / 'epoch_1.pth')
    assert (work / 'last_checkpoint').read_text().endswith('epoch_1.pth')


def test_a_temporary_file_is_never_taken_for_a_checkpoint(tmp_path):
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    (tmp_path / '.epoch_2.pth.tmp-123-abcd').write_bytes(b'')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_1.pth')
    assert checkpoints_after(str(tmp_path), 0, 'epoch_{}.pth') == [str(tmp_path / 'epoch_1.pth')]


def _truncated(ckpt: Path, out: Path) -> Path:
    data = ckpt.read_bytes()
    out.write_bytes(data[:len(data) // 2])
    return out


@pytest.mark.parametrize('pointer', [True, False])
def test_resume_past_a_damaged_checkpoint_says_what_to_do(trained, tmp_path, pointer):
    """A partial epoch_2.pth (written before this fix, or by another tool): --resume said 'use
    --resume' (last_checkpoint names epoch_1.pth), or failed to read it (no last_checkpoint)."""
    base, _, ckpt = trained
    work = tmp_path / 'w'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(ckpt.read_bytes())
    _truncated(ckpt, work / 'epoch_2.pth')
    if pointer:
        (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    before = _snapshot(work)
    proc = run_tool('train.py', base / 'tiny.py', '--work-dir', work, '--resume', '--no-test',
                    '--cfg-options', 'train_cfg.max_epochs=3', cwd=base)
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    assert 'epoch_2.pth is damaged or partial' in proc.stderr, proc.stderr[-3000:]
    assert 'delete it or move it away' in proc.stderr
    assert f'continue from epoch_1.pth with --resume {work}/epoch_1.pth' in proc.stderr
    assert _snapshot(work) == before


def test_a_fresh_run_over_a_damaged_checkpoint_says_it_is_damaged(trained, tmp_path):
    base, cfg, ckpt = trained
    work = tmp_path / 'w'
    work.mkdir()
    _truncated(ckpt, work / 'epoch_1.pth')
    runner_cfg = copy.deepcopy(cfg)
    runner_cfg.work_dir = str(work)
    with pytest.raises(CheckpointOverwriteError, match='epoch_1.pth is damaged or partial.*'
                       'delete it or move it away; there is no readable checkpoint'):
        Runner.from_cfg(runner_cfg).train()


# ------------------------------------------------------------- NaN from the starting point
def _nan_checkpoint(ckpt: Path, out: Path, epoch: int) -> Path:
    """Finite weights (the safe reader refuses NaN ones) whose logits overflow: NaN losses."""
    c = torch.load(ckpt, weights_only=True)
    c['state_dict']['head.fc.weight'].fill_(3e38)
    c['meta']['epoch'] = epoch
    torch.save(c, out)
    return out


@pytest.mark.parametrize('how', ['resume', 'load_from'])
def test_a_nan_stop_does_not_offer_the_checkpoint_that_gave_it(trained, tmp_path, how):
    """Issue 21.11: a run started from a checkpoint whose weights give NaN losses used to name
    that same checkpoint as the latest one to restart from."""
    base, cfg, ckpt = trained
    work = tmp_path / 'w'
    work.mkdir()
    runner_cfg = copy.deepcopy(cfg)
    runner_cfg.work_dir, runner_cfg.train_cfg.max_epochs = str(work), 3
    if how == 'resume':
        (work / 'epoch_1.pth').write_bytes(ckpt.read_bytes())
        start = _nan_checkpoint(ckpt, work / 'epoch_2.pth', 2)
        (work / 'last_checkpoint').write_text(str(start))
        runner_cfg.resume, runner_cfg.load_from = True, None  # the latest of the work dir
    else:
        start = _nan_checkpoint(ckpt, tmp_path / 'nan.pth', 1)
        runner_cfg.load_from = str(start)
    with pytest.raises(FloatingPointError) as stop:
        Runner.from_cfg(runner_cfg).train()
    message = str(stop.value)
    assert f'The run started from {start}' in message, message
    assert 'already gives non-finite losses' in message
    if how == 'resume':
        assert 'the checkpoint before it is epoch_1.pth' in message
        assert not (work / 'epoch_3.pth').exists()
    else:
        assert 'no earlier checkpoint' in message


def test_an_empty_last_checkpoint_file_is_no_pointer(tmp_path):
    """MMEngine writes last_checkpoint in place: a full disk at that moment leaves it empty."""
    for n in (1, 2):
        (tmp_path / f'epoch_{n}.pth').write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text('')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')
