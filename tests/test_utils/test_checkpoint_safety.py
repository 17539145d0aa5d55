"""Checkpoints are read with torch's safe unpickler only: crafted files that reach ``eval``
through ``getattr`` or through any callable of svip_mm's legacy allow-list are refused by
``torch.load``, by :func:`load_checkpoint_file` and by every tool that loads a checkpoint,
and their payload never runs; svip_mm's own checkpoints (new and old layout) keep loading."""
import copy
import pickle
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner

import svip_mm  # noqa: F401
from svip_mm.utils.checkpoint_format import decode, encode
from svip_mm.utils.safe_checkpoint import (UnsafeCheckpointError, legacy_checkpoint_globals,
                                          load_checkpoint_file)
from repo import REPO
from tool_process import run_tool


class Ref:
    """Pickles as ``func(*args)`` (plus ``state`` for BUILD): the building block of a crafted
    checkpoint. Callable, so that pickle accepts a Ref as the function of another Ref."""

    def __init__(self, func, *args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else \
            (self.func, self.args, self.state)

    def __call__(self, *args):
        raise AssertionError('never called while pickling')


def exec_payload(marker: Path) -> Ref:
    """``getattr(getattr(getattr, '__self__'), 'exec')(code)``: builtins through getattr's
    ``__self__``, then exec of code that creates ``marker``."""
    builtins_module = Ref(getattr, getattr, '__self__')
    exec_fn = Ref(getattr, builtins_module, 'exec')
    return Ref(exec_fn, f"open({str(marker)!r}, 'w').write('ran')")


def _allow_listed():
    """(name, the real object a pickle names) for every global of the legacy allow-list (the
    allow-list holds stand-ins; a crafted file names the real objects)."""
    core = (getattr(np, '_core', None) or np.core).multiarray
    real_by_name = {'builtins.getattr': getattr, 'builtins.bytes': bytes,
                    'mmengine.logging.history_buffer.HistoryBuffer': HistoryBuffer,
                    'numpy.dtype': np.dtype, 'numpy.ndarray': np.ndarray}
    out = []
    for entry in legacy_checkpoint_globals():
        obj, name = entry if isinstance(entry, tuple) else \
            (entry, f'{entry.__module__}.{entry.__qualname__}')
        if name.endswith(('multiarray._reconstruct', 'multiarray.scalar')):
            real = getattr(core, name.rsplit('.', 1)[1])  # pickled under numpy's own name
        else:
            real = real_by_name.get(name, obj)
        out.append((name, real))
    return out


def crafted_files(tmp: Path):
    """(label, path, marker) of crafted checkpoints; each marker must never appear."""
    files = []

    def write(label, payload_of):
        marker = tmp / f'marker_{len(files)}'
        path = tmp / f'crafted_{len(files)}.pth'
        torch.save({'state_dict': OrderedDict(w=torch.zeros(1)), 'meta': {},
                    'x': payload_of(marker)}, path)
        files.append((label, path, marker))

    write('getattr -> builtins -> exec', exec_payload)
    # the path of the reported attack: a function's module globals, which the unpickler could
    # write into
    write('getattr -> __globals__', lambda m: Ref(
        Ref(getattr, Ref(getattr, torch._utils._rebuild_parameter, '__globals__'), 'update'),
        {'_x': exec_payload(m)}))
    # HistoryBuffer.__init__ reaches module globals too
    write('getattr(HistoryBuffer, __init__)', lambda m: Ref(
        getattr, Ref(getattr, HistoryBuffer, '__init__'), '__globals__'))
    # HistoryBuffer's state writes into a dict that every HistoryBuffer of the process shares
    write('HistoryBuffer state', lambda m: Ref(
        HistoryBuffer, state={'max_length': 1, '_log_history': np.zeros(0),
                              '_count_history': np.zeros(0),
                              'statistics_methods': {'min': exec_payload(m)}}))
    for name, real in _allow_listed():  # each allow-listed callable, called with the payload
        write(f'through {name}', lambda m, real=real: Ref(real, exec_payload(m)))
    return files


def test_the_crafted_payload_is_live(tmp_path):
    """The unsafe unpickler runs it: so the refusals below are what keeps it from running."""
    _, path, marker = crafted_files(tmp_path)[0]
    torch.load(path, weights_only=False)
    assert marker.read_text() == 'ran'


def test_import_adds_nothing_to_torchs_allow_list():
    """torch lists some of its own classes as its submodules are imported (distributed,
    dynamo); svip_mm adds none of its own or of any other package."""
    code = ('import torch, mmengine.runner, mmpretrain; before = set('
            'torch.serialization.get_safe_globals()); import svip_mm; print(sorted('
            'f"{getattr(g, \'__module__\', \'?\')}.{getattr(g, \'__qualname__\', g)}" '
            'for g in set(torch.serialization.get_safe_globals()) - before))')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr[-2000:]
    added = eval(proc.stdout.strip().splitlines()[-1])  # a list of strings
    assert [name for name in added if not name.startswith('torch.')] == []


def test_crafted_files_are_refused_in_process(tmp_path):
    files = crafted_files(tmp_path)
    before = set(map(str, torch.serialization.get_safe_globals()))
    assert len(files) >= 4 + len(legacy_checkpoint_globals())
    for label, path, marker in files:
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path, weights_only=True)
        with pytest.raises(UnsafeCheckpointError, match='refused'):
            load_checkpoint_file(path)
        assert not marker.exists(), label
    assert set(map(str, torch.serialization.get_safe_globals())) == before  # context undone


def test_legacy_getattr_refuses_everything_but_history_statistics(tmp_path):
    path = tmp_path / 'getattr_name.pth'
    torch.save({'x': Ref(getattr, HistoryBuffer, 'update')}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"refused getattr\('HistoryBuffer', 'update'\)"):
        load_checkpoint_file(path)


# ------------------------------------------------------------------ the project's checkpoints
@pytest.fixture
def trained(tiny_trained):
    base, cfg, ckpt = tiny_trained
    return base, cfg, ckpt


def test_saved_checkpoint_loads_in_plain_torch_without_svip_mm(trained):
    _, _, ckpt = trained
    code = ('import sys, torch; c = torch.load(sys.argv[1], weights_only=True); '
            "assert 'svip_mm' not in sys.modules and 'mmengine' not in sys.modules; "
            "print(sorted(c), len(c['message_hub']['log_scalars']))")
    proc = subprocess.run([sys.executable, '-c', code, str(ckpt)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "['message_hub', 'meta', 'optimizer', 'param_schedulers', 'state_dict']" in proc.stdout


def test_saved_checkpoint_decodes_to_what_mmengine_wrote(trained):
    _, _, ckpt = trained
    c = load_checkpoint_file(ckpt)
    meta = c['meta']['dataset_meta']
    assert isinstance(meta['class_attributes'], np.ndarray)
    assert meta['class_attributes'].shape == (40, 12) and meta['class_attributes'].dtype == np.float32
    loss = c['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer)
    assert len(loss.data[0]) == c['meta']['iter'] > 0  # one loss per iteration


def _legacy_copy(src: Path, dst: Path) -> None:
    """The checkpoint as MMEngine's own CheckpointHook writes it (HistoryBuffer objects,
    numpy arrays: getattr and numpy globals in the pickle)."""
    torch.save(load_checkpoint_file(src), dst)


def test_legacy_checkpoint_is_read_narrowly(trained, tmp_path):
    _, _, ckpt = trained
    legacy = tmp_path / 'legacy.pth'
    _legacy_copy(ckpt, legacy)
    with pytest.raises(pickle.UnpicklingError, match='getattr|HistoryBuffer|numpy'):
        torch.load(legacy, weights_only=True)  # torch's list stays as it was
    c = load_checkpoint_file(legacy)
    assert isinstance(c['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    assert isinstance(c['meta']['dataset_meta']['class_attributes'], np.ndarray)


def test_legacy_checkpoint_resumes_and_tests(trained, tmp_path):
    base, cfg, ckpt = trained
    _legacy_copy(ckpt, tmp_path / 'epoch_1.pth')
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(tmp_path)
    cfg.train_cfg.max_epochs = 2
    cfg.resume, cfg.load_from = True, str(tmp_path / 'epoch_1.pth')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 2 and (tmp_path / 'epoch_2.pth').is_file()
    per_epoch = torch.load(ckpt, weights_only=True)['meta']['iter']
    assert len(runner.message_hub.get_scalar('train/loss').data[0]) == 2 * per_epoch


@pytest.mark.parametrize('value', [
    np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, -2], dtype=np.int64),
    np.array([True, False]), np.array(['wing', 'beak']), np.array([{'a': 1}, None], dtype=object),
    np.float32(1.5), np.int64(3), np.zeros((0, 4), dtype=np.float16)])
def test_arrays_round_trip_with_dtype_and_shape(value):
    back = decode(encode(value))
    assert type(back) is type(value) and back.dtype == value.dtype
    assert np.shape(back) == np.shape(value)
    assert pickle.dumps(back) == pickle.dumps(value)  # what MMEngine compares on resume


def test_history_buffer_and_containers_round_trip():
    buf = HistoryBuffer([1.0, 2.0], [1, 2], max_length=7)
    obj = OrderedDict(a=buf, b=(1, 'x', [np.int32(2)]), c={'t': torch.ones(2)})
    enc = encode(obj)
    assert not any(isinstance(v, (HistoryBuffer, np.generic)) for v in
                   (enc['a'], enc['b'][2][0]))
    back = decode(enc)
    assert isinstance(back, OrderedDict) and isinstance(back['a'], HistoryBuffer)
    assert back['a'].max_length == 7 and back['a'].data[0].tolist() == [1.0, 2.0]
    assert back['a'].data[1].tolist() == [1, 2] and back['b'][:2] == (1, 'x')
    assert torch.equal(back['c']['t'], torch.ones(2))


# ---------------------------------------------------------------------------------- the tools


@pytest.mark.parametrize('tool', ['test', 'predict', 'visualize', 'resume', 'load_from'])
def test_every_tool_refuses_a_crafted_checkpoint(trained, tmp_path, tool):
    base, _, _ = trained
    _, crafted, marker = crafted_files(tmp_path)[0]
    config, image = base / 'tiny.py', next((base / 'data').rglob('*.png'))
    cmd = {'test': ['test.py', config, crafted, '--work-dir', tmp_path / 'w'],
           'predict': ['predict.py', config, crafted, image],
           'visualize': ['visualize.py', config, crafted, image, '--out',
                         tmp_path / 'v.png'],
           'resume': ['train.py', config, '--work-dir', tmp_path / 'w', '--resume',
                      crafted],
           'load_from': ['train.py', config, '--work-dir', tmp_path / 'w', '--no-test',
                         '--cfg-options', f'load_from={crafted}']}[tool]
    proc = run_tool(*cmd, cwd=base)
    assert proc.returncode != 0
    assert 'refused' in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]
    assert not marker.exists()


@pytest.mark.parametrize('content', [b'not a checkpoint\n', b''], ids=['text', 'empty'])
def test_a_file_torch_did_not_write_is_named_as_such(trained, tmp_path, content):
    """A text file named .pth used to give 'KeyError: 101' (test) or a misleading 'must first
    be converted' (predict)."""
    base, _, _ = trained
    bad = tmp_path / 'notes.pth'
    bad.write_bytes(content)
    with pytest.raises(ValueError, match="notes.pth' is not a torch checkpoint"):
        load_checkpoint_file(bad)
    image = next((base / 'data').rglob('*.png'))
    for cmd in (['test.py', base / 'tiny.py', bad, '--work-dir', tmp_path / 'w'],
                ['predict.py', base / 'tiny.py', bad, image]):
        proc = run_tool(*cmd, cwd=base)
        assert proc.returncode != 0
        assert "is not a torch checkpoint" in proc.stderr, proc.stderr[-2000:]
        assert 'Traceback' not in proc.stderr and 'converted' not in proc.stderr


def test_a_legacy_torch_file_still_loads(tmp_path):
    """torch < 1.6's layout (no zip), as old timm / mmpretrain weights have."""
    torch.save({'w': torch.ones(2)}, tmp_path / 'old.pth', _use_new_zipfile_serialization=False)
    assert torch.equal(load_checkpoint_file(tmp_path / 'old.pth')['w'], torch.ones(2))
