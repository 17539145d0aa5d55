"""A 2-process run on the CPU (torchrun + gloo) crossing the phase boundary, then testing."""
import os
import socket
import subprocess
import sys

from tiny_config import REPO, tiny_cfg

from svip_mm.engine import prepare_data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_processes_train_across_the_phase_boundary_and_evaluate(tmp_path):
    cfg = tiny_cfg(tmp_path / 'data', tmp_path / 'work', epochs=2)
    cfg.custom_hooks[-1].update(phase1_epochs=1)
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
