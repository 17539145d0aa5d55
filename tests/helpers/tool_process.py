"""Run a command-line tool of the repository as a user does: its own process, another working
directory, no PYTHONPATH, one thread."""
import os
import subprocess
import sys

from repo import REPO


def run_tool(script: str, *args, cwd) -> subprocess.CompletedProcess:
    """``python tools/<script> args...`` in ``cwd``; stdout and stderr captured as text."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, str(REPO / 'tools' / script), *map(str, args)],
                          cwd=str(cwd), env=env, capture_output=True, text=True, timeout=300)
