"""A 2-process run on the CPU (torchrun + gloo) crossing the phase boundary, then testing."""
import os
import socket
import subprocess
import sys

from repo import REPO
from tiny_config import tiny_cfg

from svip_mm.engine import prepare_data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_processes_train_across_the_phase_boundary_and_evaluate(tmp_path):
    cfg = tiny_cfg(tmp_path / 'data', tmp_path / 'work', epochs=2)
    cfg.default_hooks.two_phase_schedule.update(phase1_epochs=1)
    prepare_data(cfg)  # generate once here; both ranks then find the data
    cfg_file = tmp_path / 'tiny.py'
    cfg.dump(str(cfg_file))
    env = dict(os.environ, PORT=str(_free_port()), PYTHON=sys.executable, OMP_NUM_THREADS='1')
    result = subprocess.run(['bash', str(REPO / 'tools/dist_train.sh'), str(cfg_file), '2',
                             '--work-dir', str(tmp_path / 'work')],
                            cwd=str(tmp_path), env=env, capture_output=True, text=True,
                            timeout=600)
    log = result.stdout + result.stderr
    # torchrun exits 0 only when every rank did
    assert result.returncode == 0, log[-3000:]
    assert (tmp_path / 'work' / 'epoch_2.pth').is_file()
    assert 'Epoch(train) [2]' in log and 'zsl/top1' in log
    assert 'Distributed training: True' in log


def test_launch_scripts_find_the_python_with_torch(tmp_path):
    """dist_train.sh / dist_test.sh used to run plain `python` ('No module named torch' unless
    PYTHON was set); now: PYTHON, else `python` when it has torch, else the repo's .venv."""
    import shutil
    repo = tmp_path / 'repo'
    (repo / 'tools').mkdir(parents=True)
    shutil.copy(REPO / 'tools/find_python.sh', repo / 'tools')
    no_torch = tmp_path / 'bin'
    no_torch.mkdir()
    (no_torch / 'python').write_text('#!/bin/sh\nexit 1\n')  # a python without torch
    (no_torch / 'python').chmod(0o755)

    def which_python(**env):
        env = dict({k: v for k, v in os.environ.items() if k != 'PYTHON'},
                   PATH=f'{no_torch}:/usr/bin:/bin', **env)
        return subprocess.run(['bash', '-c', f'source {repo}/tools/find_python.sh && echo $PY'],
                              env=env, capture_output=True, text=True, timeout=60)

    missing = which_python()
    assert missing.returncode == 2 and 'no Python with torch found' in missing.stderr
    (repo / '.venv/bin').mkdir(parents=True)
    (repo / '.venv/bin/python').symlink_to(sys.executable)
    assert which_python().stdout.strip() == str(repo / '.venv/bin/python')
    assert which_python(PYTHON='/opt/my/python').stdout.strip() == '/opt/my/python'
    for script in ('dist_train.sh', 'dist_test.sh'):
        assert 'source "$TOOLS/find_python.sh"' in (REPO / 'tools' / script).read_text()
