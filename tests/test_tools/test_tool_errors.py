"""The tools' error policy (svip_mm/utils/tool_errors.py): bad input ends in one ``error:``
line naming the key, file or value, exit code 2, no traceback; ``--debug`` or
``SVIP_MM_DEBUG=1`` shows the traceback; a bug keeps its traceback."""
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from svip_mm.utils.tool_errors import error_message, run_tool as run_under_policy
from repo import REPO
from tool_process import run_tool


# ------------------------------------------------------------------ the policy itself
def _exit_of(main, argv, capsys):
    with pytest.raises(SystemExit) as info:
        run_under_policy(main, argv)
    return info.value.code, capsys.readouterr().err


def test_input_errors_print_one_line_and_exit_2(capsys):
    def main(argv):
        raise ValueError('keep_k=99 is outside 1..63\n(second line)')
    code, err = _exit_of(main, [], capsys)
    assert code == 2
    assert err.count('\n') == 1 and err.startswith('error: keep_k=99 is outside 1..63 '
                                                   '(second line)')
    assert '--debug' in err and 'Traceback' not in err


@pytest.mark.parametrize('error, shown', [
    (KeyError('no such class table'), 'error: no such class table'),
    (FileNotFoundError(2, 'No such file or directory', '/x/y.npy'), '/x/y.npy'),
    (TypeError("__init__() got an unexpected keyword argument 'keepk'"), "'keepk'"),
    (SystemExit('--resume: checkpoint not found: a.pth'),
     'error: --resume: checkpoint not found: a.pth'),
    (SystemExit('error: already prefixed'), 'error: already prefixed'),
])
def test_messages(error, shown, capsys):
    def main(argv):
        raise error
    code, err = _exit_of(main, [], capsys)
    assert code == 2 and shown in err and 'error: error:' not in err


def test_return_values_and_numeric_exits_pass_through(capsys):
    assert _exit_of(lambda argv: 3, [], capsys)[0] == 3
    assert _exit_of(lambda argv: {'a': 1}, [], capsys)[0] == 0

    def exits_1(argv):
        raise SystemExit(1)
    assert _exit_of(exits_1, [], capsys)[0] == 1


def test_debug_flag_and_variable_show_the_traceback(monkeypatch):
    seen = []

    def main(argv):
        seen.append(argv)
        raise ValueError('bad value')
    with pytest.raises(ValueError, match='bad value'):
        run_under_policy(main, ['cfg.py', '--debug'])
    assert seen == [['cfg.py']]  # the tool never sees --debug
    monkeypatch.setenv('SVIP_MM_DEBUG', '1')
    with pytest.raises(ValueError):
        run_under_policy(main, ['cfg.py'])


def test_a_bug_keeps_its_traceback():
    def main(argv):
        return [][1]
    with pytest.raises(IndexError):
        run_under_policy(main, [])


def test_key_error_is_not_quoted():
    assert error_message(KeyError('x y')) == 'error: x y'


# ------------------------------------------------------------ every tool, as a user runs it
@pytest.fixture
def trained(tiny_trained):
    base, cfg, ckpt = tiny_trained
    return base, base / 'tiny.py', ckpt


def _derived(tmp_path, cfg, name, text):
    """A config of ``cfg`` plus ``text``."""
    path = tmp_path / f'{name}.py'
    path.write_text(f'_base_ = {str(cfg)!r}\n{text}\n')
    return path


def _one_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: '), last
    for word in words:
        assert word in last, (word, last)


@pytest.mark.parametrize('tool, before, after', [
    ('train.py', [], []),
    ('test.py', [], ['CKPT']),
    ('calibrate.py', ['prepare'], []),
    ('check_dataset.py', ['--config'], []),
    ('predict.py', [], ['CKPT', 'IMAGE']),  # usage errors of argparse: "predict.py: error: "
    ('visualize.py', [], ['CKPT', 'IMAGE', '--out', 'OUT']),
])
@pytest.mark.parametrize('config, words', [
    ('nope.py', ['config not found: nope.py']),
    ('a_folder', ['config', 'a_folder']),
])
def test_a_config_that_is_not_a_file_is_named(trained, tmp_path, tool, before, after, config,
                                               words):
    """Every tool that reads a config names it, not with Python's ``[Errno 2]`` text."""
    _, _, ckpt = trained
    (tmp_path / 'a_folder').mkdir()
    image = tmp_path / 'img.png'
    image.write_bytes(b'')
    extra = [{'CKPT': ckpt, 'IMAGE': image, 'OUT': tmp_path / 'fig.png'}.get(a, a)
             for a in after]
    proc = run_tool(tool, *before, config, *extra, cwd=tmp_path)
    if tool in ('predict.py', 'visualize.py'):
        assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith(f'{tool}: error: ') and all(w in last for w in words), last
    else:
        _one_error(proc, *words, 'expected a config file')


@pytest.mark.parametrize('option, words', [
    ('train_cfg.max_epoch=2', ['max_epoch']),
    ('model.neck.keepk=3', ['keepk']),
    ('model.neck.keep_k=1000', ['keep_k=1000', 'outside']),
    ('optim_wrapper.optimizer.lr=abc', ['optim_wrapper.optimizer.lr', 'abc', 'number']),
])
def test_train_config_values(trained, tmp_path, option, words):
    base, cfg, _ = trained
    proc = run_tool('train.py', cfg, '--work-dir', tmp_path / 'w', '--cfg-options', option,
                    cwd=tmp_path)
    _one_error(proc, *words)


def test_debug_shows_the_traceback_of_a_tool(trained, tmp_path):
    base, cfg, _ = trained
    proc = run_tool('train.py', cfg, '--work-dir', tmp_path / 'w', '--debug', '--cfg-options',
                    'model.neck.keep_k=1000', cwd=tmp_path)
    assert proc.returncode != 0 and 'Traceback' in proc.stderr and 'keep_k=1000' in proc.stderr


def test_word_vector_files(trained, tmp_path):
    base, cfg, ckpt = trained
    proc = run_tool('test.py', cfg, ckpt, '--cfg-options',
                    f'model.neck.word_vectors={tmp_path / "none.npy"}', cwd=tmp_path)
    _one_error(proc, 'none.npy')
    np.save(tmp_path / 'short.npy', np.zeros((5, 50), np.float32))
    proc = run_tool('train.py', cfg, '--work-dir', tmp_path / 'w', '--cfg-options',
                    f'model.neck.word_vectors={tmp_path / "short.npy"}', cwd=tmp_path)
    _one_error(proc, '5 rows', 'num_attributes=12')


def test_num_classes_mismatch(trained, tmp_path):
    base, cfg, ckpt = trained
    proc = run_tool('test.py', cfg, ckpt, '--cfg-options', 'model.head.num_classes=7',
                    cwd=tmp_path)
    _one_error(proc, '40 classes', '7')


def test_work_dir_that_cannot_be_created(trained, tmp_path):
    base, cfg, _ = trained
    (tmp_path / 'a_file').write_text('')
    proc = run_tool('train.py', cfg, '--work-dir', tmp_path / 'a_file' / 'w', cwd=tmp_path)
    _one_error(proc, str(tmp_path / 'a_file'))


def test_unreadable_safetensors_is_named(trained, tmp_path):
    base, cfg, _ = trained
    bad = tmp_path / 'bad.safetensors'
    bad.write_bytes(b'not a safetensors file')
    derived = _derived(tmp_path, cfg, 'st', 'model = dict(backbone=dict(init_cfg=dict('
                       f"type='Pretrained', checkpoint={str(bad)!r})))")
    proc = run_tool('train.py', derived, '--work-dir', tmp_path / 'w', cwd=tmp_path)
    _one_error(proc, str(bad))


def test_offline_hub_name(trained, tmp_path, monkeypatch):
    base, cfg, _ = trained
    derived = _derived(tmp_path, cfg, 'hub', 'model = dict(backbone=dict(init_cfg=dict('
                       "type='Pretrained', checkpoint='timm/vit_tiny_patch16_224.augreg_in21k')))")
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    proc = run_tool('train.py', derived, '--work-dir', tmp_path / 'w', cwd=tmp_path)
    _one_error(proc, 'timm/vit_tiny_patch16_224.augreg_in21k')


def test_offline_url(trained, tmp_path, monkeypatch):
    base, cfg, _ = trained
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    url = 'http://127.0.0.1:9/weights/epoch_1.pth'  # the discard port: nothing listens
    proc = run_tool('test.py', cfg, url, cwd=tmp_path)
    _one_error(proc, url)


def test_visualize_refuses_an_unknown_figure_format_first(trained, tmp_path):
    base, cfg, ckpt = trained
    image = next((base / 'data' / 'images').rglob('*.png'))
    proc = run_tool('visualize.py', cfg, ckpt, image, '--out', tmp_path / 'x.txt', cwd=tmp_path)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert '--out' in proc.stderr and '.png' in proc.stderr
    assert 'Loads checkpoint' not in proc.stderr + proc.stdout  # refused before the model


def test_busy_port_for_the_launchers(tmp_path):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()
    port = listener.getsockname()[1]
    env = dict(os.environ, PORT=str(port), PYTHON=sys.executable)
    try:
        for script, args in (('dist_train.sh', ['cfg.py', '2']),
                             ('dist_test.sh', ['cfg.py', 'c.pth', '2'])):
            proc = subprocess.run(['bash', str(REPO / 'tools' / script), *args], env=env,
                                  cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
            assert proc.returncode == 2 and 'Traceback' not in proc.stderr
            assert proc.stderr.strip() == (f'error: port {port} is in use on this machine '
                                           '(another distributed job?); choose a free one with '
                                           'PORT=..., e.g. PORT=29501')
    finally:
        listener.close()
