"""Crafted and damaged checkpoints beyond the unpickler's allow-list (issue 21): a config stored
in a checkpoint is never executed on resume; checkpoints named by URL or by MMEngine's
``torchvision://`` / ``open-mmlab://`` / ``mmcls://`` names are read by the same safe reader
as local files; numpy data is rebuilt from whitelisted dtypes and checked sizes, never by
numpy's own pickle protocol (which a file can make read raw bytes as pointers); malformed
plain-type data (sizes, cycles, depth, shapes) and damaged zip members are one clear error
naming the file; NaN weights are refused."""
import os
import socket
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

import svip_mm  # noqa: F401
from svip_mm.utils.checkpoint_format import HISTORY_TAG, NDARRAY_TAG, encode
from svip_mm.utils.safe_checkpoint import (CheckpointReadError, UnsafeCheckpointError,
                                           load_checkpoint_file)
from test_checkpoint_safety import Ref, exec_payload
from repo import REPO
from tool_process import run_tool

_CORE = getattr(np, '_core', None) or np.core


@pytest.fixture
def trained(tiny_trained):
    base, cfg, ckpt = tiny_trained
    return base, cfg, ckpt


def _raw(ckpt: Path) -> dict:
    """The checkpoint as plain torch reads it (svip_mm's plain-type encoding left as is)."""
    return torch.load(ckpt, weights_only=True)


def _save(obj, path: Path) -> Path:
    torch.save(obj, path)
    return path


def _in_child(code: str, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=str(REPO),
                          env=dict(os.environ, OMP_NUM_THREADS='1'))


# ------------------------------------------------------------ 1. a config stored in a checkpoint
def _config_payload(marker: Path) -> str:
    return f"gpu_ids = [open({str(marker)!r}, 'w').write('ran') and 0]"


@pytest.mark.parametrize('how', ['file', 'auto'])
def test_resume_never_executes_the_config_stored_in_the_checkpoint(trained, tmp_path, how):
    """MMEngine's ``Runner.resume`` runs ``meta['config']`` through ``Config.fromstring``."""
    base, _, ckpt = trained
    marker, work = tmp_path / 'marker', tmp_path / 'work'
    work.mkdir()
    raw = _raw(ckpt)
    raw['meta']['config'] = _config_payload(marker)
    crafted = _save(raw, work / 'epoch_1.pth')
    resume = ['--resume'] + ([str(crafted)] if how == 'file' else [])
    proc = run_tool('train.py', base / 'tiny.py', '--work-dir', work, '--no-test', *resume,
                    cwd=base)
    assert not marker.exists()
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]  # and the resume works


def test_only_a_literal_gpu_ids_is_kept_from_a_stored_config(tmp_path):
    marker = tmp_path / 'marker'
    meta = {'config': "gpu_ids = [0, 1]\nwork_dir = 'x'\n", 'epoch': 1}
    assert load_checkpoint_file(_save({'meta': meta}, tmp_path / 'a.pth'))['meta'] == \
        {'config': 'gpu_ids = [0, 1]', 'epoch': 1}  # MMEngine's GPU-count check still works
    for text in (_config_payload(marker), 'gpu_ids = list(range(2))', 'x = (', 7):
        meta = load_checkpoint_file(_save({'meta': {'config': text}}, tmp_path / 'b.pth'))['meta']
        assert meta == {}, text
    assert not marker.exists()


# ------------------------------------------------------------------- 2. checkpoints named by URL
@pytest.fixture
def torch_hub_dir(tmp_path, monkeypatch):
    """torch.hub's cache in tmp_path (TORCH_HOME, for this process and the tools)."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setattr(torch.hub, '_hub_dir', None)
    (tmp_path / 'torch' / 'hub' / 'checkpoints').mkdir(parents=True)
    return tmp_path / 'torch' / 'hub' / 'checkpoints'


def _named_checkpoints():
    """(name, URL it maps to) for one model of every MMEngine scheme that downloads."""
    from mmengine.runner.checkpoint import (get_external_models, get_mmcls_models,
                                            get_torchvision_models)
    openmmlab = next(k for k, v in get_external_models().items() if v.startswith('http'))
    mmcls = next(iter(get_mmcls_models().items()))
    torchvision = get_torchvision_models()['resnet18']
    return [('https://example.invalid/models/crafted-1234.pth',
             'https://example.invalid/models/crafted-1234.pth'),
            ('http://example.invalid/crafted.pth', 'http://example.invalid/crafted.pth'),
            ('torchvision://resnet18', torchvision), ('modelzoo://resnet18', torchvision),
            (f'open-mmlab://{openmmlab}', get_external_models()[openmmlab]),
            (f'openmmlab://{openmmlab}', get_external_models()[openmmlab]),
            (f'mmcls://{mmcls[0]}', mmcls[1])]


def test_every_mmengine_scheme_reads_with_the_safe_reader():
    loaders = {prefix: f'{loader.__module__}.{loader.__name__}'
               for prefix, loader in CheckpointLoader._schemes.items()}
    assert {'', 'http://', 'https://', 'torchvision://', 'open-mmlab://', 'mmcls://'} <= \
        set(loaders)
    assert {p: name for p, name in loaders.items()
            if not name.startswith('svip_mm.engine.safe_checkpoint.')} == {}


@pytest.mark.parametrize('name,url', _named_checkpoints(), ids=lambda x: x.split('/')[0])
def test_a_crafted_file_in_the_download_cache_is_refused(torch_hub_dir, tmp_path, name, url):
    marker = tmp_path / 'marker'
    _save({'state_dict': OrderedDict(w=torch.zeros(1)), 'x': exec_payload(marker)},
          torch_hub_dir / url.rsplit('/', 1)[1])
    with pytest.raises(UnsafeCheckpointError, match='refused') as info:
        CheckpointLoader.load_checkpoint(name, map_location='cpu')
    assert not marker.exists()
    assert url in str(info.value)


def test_a_cached_checkpoint_named_by_url_loads(torch_hub_dir):
    _save({'state_dict': OrderedDict(w=torch.ones(2)), 'meta': encode({'a': np.arange(3)})},
          torch_hub_dir / 'good.pth')
    ckpt = CheckpointLoader.load_checkpoint('https://example.invalid/x/good.pth')
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert ckpt['meta']['a'].tolist() == [0, 1, 2]


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_an_unreachable_url_is_one_clear_error(torch_hub_dir):
    url = f'http://127.0.0.1:{_free_port()}/absent.pth'  # nothing listens there
    with pytest.raises(CheckpointReadError) as info:
        CheckpointLoader.load_checkpoint(url)
    message = str(info.value)
    assert url in message and str(torch_hub_dir / 'absent.pth') in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not (torch_hub_dir / 'absent.pth').exists()


def test_tools_read_urls_with_the_safe_reader(trained, torch_hub_dir, tmp_path):
    base, _, _ = trained
    marker = tmp_path / 'marker'
    _save({'state_dict': OrderedDict(w=torch.zeros(1)), 'meta': {}, 'x': exec_payload(marker)},
          torch_hub_dir / 'crafted.pth')
    proc = run_tool('test.py', base / 'tiny.py', 'https://example.invalid/crafted.pth',
                    '--work-dir', tmp_path / 'w', cwd=base)
    assert proc.returncode != 0 and not marker.exists()
    assert 'refused' in proc.stderr, proc.stderr[-3000:]
    url = f'http://127.0.0.1:{_free_port()}/absent.pth'
    proc = run_tool('test.py', base / 'tiny.py', url, '--work-dir', tmp_path / 'w', cwd=base)
    assert proc.returncode != 0
    assert url in proc.stderr and 'Traceback' not in proc.stderr, proc.stderr[-3000:]


# ----------------------------------------------------------- 3. numpy objects from a legacy file
def _flagged_dtype(spec='O8'):
    """A dtype whose pickled state rewrites its flags: an object dtype without the flag that
    makes numpy expect a list, so raw bytes are taken for object pointers."""
    return Ref(np.dtype, spec, False, True, state=(3, '|', None, None, None, -1, -1, 61))


def _pointer_array():
    return Ref(_CORE.multiarray._reconstruct, np.ndarray, (0,), b'b',
               state=(1, (1,), _flagged_dtype(), False, b'\x41' * 8))


def _pointer_scalar():
    return Ref(_CORE.multiarray.scalar, _flagged_dtype(), b'\x41' * 8)


def _numpy_payloads():
    real_f8 = Ref(np.dtype, 'f8', False, True, state=(3, '<', None, None, None, -1, -1, 0))
    return {
        'pointer array': _pointer_array(),
        'pointer scalar': _pointer_scalar(),
        'object array': np.array([{'a': 1}], dtype=object),
        'void dtype': np.zeros(2, dtype='V4'),
        'structured dtype': np.zeros(2, dtype=[('a', 'f4')]),
        'bytes shorter than the shape': Ref(_CORE.multiarray._reconstruct, np.ndarray, (0,),
                                            b'b', state=(1, (1000,), real_f8, False, b'\0' * 8)),
        '_reconstruct(np.dtype)': Ref(_CORE.multiarray._reconstruct, np.dtype, (0,), b'b'),
        'scalar with short bytes': Ref(_CORE.multiarray.scalar, real_f8, b'\0'),
    }


@pytest.mark.parametrize('label', list(_numpy_payloads()))
def test_numpy_payloads_are_refused_without_a_crash(tmp_path, label):
    """In a child process: the pointer payloads used to kill it with SIGSEGV."""
    path = _save({'state_dict': OrderedDict(w=torch.zeros(1)), 'meta': {},
                  'x': _numpy_payloads()[label]}, tmp_path / 'numpy.pth')
    code = ('import sys; from svip_mm.utils.safe_checkpoint import load_checkpoint_file, '
            'UnsafeCheckpointError\ntry:\n    load_checkpoint_file(sys.argv[1])\n'
            'except UnsafeCheckpointError as err:\n    print(err); sys.exit(3)\n')
    proc = _in_child(code, path)
    assert proc.returncode == 3, (proc.returncode, proc.stderr[-2000:])
    assert 'refused' in proc.stdout and "numpy.pth'" in proc.stdout
    assert len(proc.stdout) < 1500  # the reason, not torch's advice to allow-list globals


def test_pickled_dtype_flags_never_reach_numpy(tmp_path):
    """A plain dtype whose state sets flags (here: holds references) loads as the plain dtype:
    the flags are dropped, so the bytes stay numbers (in a child: numpy used to keep them)."""
    flagged = Ref(np.dtype, 'f8', False, True, state=(3, '<', None, None, None, -1, -1, 1))
    array = Ref(_CORE.multiarray._reconstruct, np.ndarray, (0,), b'b',
                state=(1, (1,), flagged, False, b'\x41' * 8))
    path = _save({'meta': {'a': array, 's': Ref(_CORE.multiarray.scalar, flagged, b'\x41' * 8)}},
                 tmp_path / 'flags.pth')
    code = ('import sys; from svip_mm.utils.safe_checkpoint import load_checkpoint_file\n'
            "m = load_checkpoint_file(sys.argv[1])['meta']\n"
            "print(m['a'].dtype.flags, m['s'].dtype.flags, m['a'].tolist(), float(m['s']))")
    proc = _in_child(code, path)
    value = float(np.frombuffer(b'\x41' * 8, '<f8')[0])
    assert proc.stdout.split() == ['0', '0', f'[{value}]', str(value)], proc.stderr[-2000:]


@pytest.mark.parametrize('tool', ['predict', 'test'])
def test_tools_refuse_the_numpy_pointer_payload(trained, tmp_path, tool):
    base, _, _ = trained
    path = _save({'state_dict': OrderedDict(w=torch.zeros(1)), 'meta': {},
                  'x': _pointer_array()}, tmp_path / 'pointer.pth')
    image = next((base / 'data').rglob('*.png'))
    cmd = {'predict': ['predict.py', base / 'tiny.py', path, image],
           'test': ['test.py', base / 'tiny.py', path, '--work-dir', tmp_path / 'w']}[tool]
    proc = run_tool(*cmd, cwd=base)
    assert 0 < proc.returncode < 128, proc.returncode  # an error, not a signal
    assert 'refused' in proc.stderr and 'object' in proc.stderr, proc.stderr[-3000:]


def test_numpy_1_and_2_pickles_of_plain_arrays_load(tmp_path):
    """numpy 1.x pickles name ``numpy.core.multiarray``, numpy 2.x ``numpy._core``."""
    values = {'f': np.arange(6, dtype='>f4').reshape(2, 3), 'fortran': np.asfortranarray(
        np.arange(6, dtype=np.int16).reshape(2, 3)), 'b': np.array([True, False]),
        'u': np.array(['wing', 'beak']), 's': np.array([b'ab']), 'c': np.complex64(1 + 2j),
        'scalar': np.float64(2.5), 'dtype': np.dtype('<U3'), 'empty': np.zeros((0, 3))}
    path = tmp_path / 'old.pth'
    torch.save(values, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    core = _CORE.multiarray.__name__.encode()
    assert core in data
    for name in (b'numpy.core.multiarray', b'numpy._core.multiarray'):
        path.write_bytes(data.replace(core + b'\n', name + b'\n'))
        back = load_checkpoint_file(path)
        for key, value in values.items():
            assert type(back[key]) is type(value), key
            if isinstance(value, np.dtype):
                assert back[key] == value
            else:
                assert back[key].dtype == value.dtype and np.array_equal(back[key], value), key
        assert back['fortran'].flags.f_contiguous and back['f'].dtype.byteorder == '>'


# --------------------------------------------------------------- 4. malformed plain-type data
def _tagged(data, dtype, shape, scalar=False):
    return {NDARRAY_TAG: data, 'dtype': dtype, 'shape': list(shape), 'scalar': scalar}


def _cycle():
    meta = {'a': 1}
    meta['self'] = meta
    return meta


def _deep(levels):
    value = [1]
    for _ in range(levels):
        value = [value]
    return value


def _fan_out(levels):
    """Each level lists the one below twice: 2**levels paths through a few hundred bytes."""
    value = [0]
    for _ in range(levels):
        value = [value, value]
    return value


MALFORMED = {
    'huge string dtype': (_tagged(['a'] * 600, '<U100000000', [600]), 'larger than'),
    'huge bytes dtype': (_tagged(['a'], '|S99999999', [1]), 'larger than'),
    'huge shape': (_tagged(torch.zeros(1), '<f4', [10 ** 6, 10 ** 6]), 'shape'),
    'shape not matching the data': (_tagged(torch.zeros(3), '<f4', [2, 2]), 'shape'),
    'list shape not matching': (_tagged([1, 2, 3], '<i8', [2, 2]), 'shape'),
    'dtype not matching the tensor': (_tagged(torch.zeros(3), '<c16', [3]), 'dtype'),
    'void dtype': (_tagged(['a'], '|V99999999999', [1]), 'dtype'),
    'dtype not a string': (_tagged([1], ['f4'], [1]), 'dtype'),
    'negative shape': (_tagged([], '<f4', [-1]), 'shape'),
    'unknown tag field': ({**_tagged([1], '<i8', [1]), 'extra': 1}, 'field'),
    'history buffer not a dict': ({HISTORY_TAG: 5}, 'HistoryBuffer'),
    'cycle': (_cycle(), 'contains itself'),
    'deep nesting': (_deep(400), 'deeper than'),
}


@pytest.mark.parametrize('label', list(MALFORMED))
def test_malformed_plain_data_is_one_error_naming_the_file(tmp_path, label):
    value, reason = MALFORMED[label]
    path = _save({'state_dict': OrderedDict(w=torch.zeros(1)), 'meta': {'x': value}},
                 tmp_path / 'malformed.pth')
    with pytest.raises(CheckpointReadError, match=reason) as info:
        load_checkpoint_file(path)
    assert "malformed.pth'" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize('legacy', [False, True], ids=['plain', 'legacy'])
def test_shared_subtrees_are_walked_once(tmp_path, legacy):
    """2**60 paths through a small file: walked once per object (in a child, which used to
    walk them all until killed), and the sharing kept."""
    extra = {'legacy': np.zeros(1)} if legacy else {}
    path = _save({'meta': {'x': _fan_out(60)}, **extra}, tmp_path / 'fan.pth')
    code = ('import sys; from svip_mm.utils.safe_checkpoint import load_checkpoint_file\n'
            "x = load_checkpoint_file(sys.argv[1])['meta']['x']\n"
            'print(x[0] is x[1], x[0][0] is x[0][1])')
    try:
        proc = _in_child(code, path, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail('still walking after 60 s')
    assert proc.stdout.split() == ['True', 'True'], proc.stderr[-2000:]


def test_a_cycle_in_a_legacy_file_is_refused(tmp_path):
    path = _save({'meta': _cycle(), 'x': np.zeros(2)}, tmp_path / 'legacy_cycle.pth')
    with pytest.raises(CheckpointReadError, match='contains itself'):
        load_checkpoint_file(path)


def test_decoded_numpy_data_may_not_exceed_the_file(tmp_path):
    """Many small tags that share one big tensor would decode to many copies of it."""
    big = torch.zeros(2 ** 22)  # 16 MiB
    tags = [_tagged(big, '<f4', [2 ** 22]) for _ in range(10)]
    path = _save({'meta': {'x': tags}}, tmp_path / 'shared.pth')
    with pytest.raises(CheckpointReadError, match='larger than'):
        load_checkpoint_file(path)
    # one copy is as large as the data in the file, and loads
    assert load_checkpoint_file(_save({'meta': {'x': tags[:1]}}, tmp_path / 'one.pth'))[
        'meta']['x'][0].nbytes == 2 ** 24


# ------------------------------------------------------------------------ 10. damaged weights
def _damage_a_tensor(src: Path, dst: Path) -> str:
    """Copy ``src`` with bytes of its largest tensor overwritten (the zip's CRC left as it
    was, as a disk or a transfer would leave it). Returns the member's name."""
    with zipfile.ZipFile(src) as archive:
        info = max((i for i in archive.infolist() if '/data/' in i.filename),
                   key=lambda i: i.file_size)
    data = bytearray(src.read_bytes())
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28],
                                         'little'), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], 'little')
    start = info.header_offset + 30 + name_len + extra_len
    data[start + 64:start + 128] = b'\xff' * 64  # NaN as float32
    dst.write_bytes(bytes(data))
    return info.filename


def test_a_damaged_tensor_is_refused_naming_the_member(trained, tmp_path):
    base, _, ckpt = trained
    damaged = tmp_path / 'damaged.pth'
    member = _damage_a_tensor(ckpt, damaged)
    with pytest.raises(CheckpointReadError, match='damaged') as info:
        load_checkpoint_file(damaged)
    assert member in str(info.value) and "damaged.pth'" in str(info.value)
    assert 'another checkpoint' in str(info.value)
    image = next((base / 'data').rglob('*.png'))
    proc = run_tool('predict.py', base / 'tiny.py', damaged, image, cwd=base)
    assert proc.returncode != 0
    assert member in proc.stderr and 'damaged' in proc.stderr, proc.stderr[-3000:]


def test_nan_weights_are_refused_naming_the_tensors(trained, tmp_path):
    _, _, ckpt = trained
    raw = _raw(ckpt)
    names = [k for k, v in raw['state_dict'].items() if v.is_floating_point()][:2]
    for name in names:
        raw['state_dict'][name] = raw['state_dict'][name].clone()
        raw['state_dict'][name].view(-1)[0] = float('nan')
    with pytest.raises(CheckpointReadError, match='NaN') as info:
        load_checkpoint_file(_save(raw, tmp_path / 'nan.pth'))
    assert all(name in str(info.value) for name in names)


def test_the_trained_checkpoint_passes_both_checks(trained):
    _, _, ckpt = trained
    with zipfile.ZipFile(ckpt) as archive:
        assert archive.testzip() is None  # torch writes the CRCs that the reader checks
    assert load_checkpoint_file(ckpt)['meta']['epoch'] == 1

