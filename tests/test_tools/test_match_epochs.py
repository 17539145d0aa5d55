"""tools/match_epochs.py: per-phase epoch costs from MMEngine logs, and the matched epoch count."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from repo import TOOLS, load_tool

_tool = load_tool('match_epochs')
match_epochs, phase_costs, read_train_rows = (_tool.match_epochs, _tool.phase_costs,
                                              _tool.read_train_rows)
TOOL = TOOLS / 'match_epochs.py'


def _log(work_dir, epochs, iters, time_of, stamp='20261203_000000', extra=()):
    """An MMEngine scalars.json with a row every 10 iterations, as LoggerHook(interval=10)."""
    rows = []
    for epoch in range(1, epochs + 1):
        for i in range(10, iters + 1, 10):
            step = (epoch - 1) * iters + i
            rows.append(dict(lr=1e-3, loss=1.0, time=time_of(epoch, i), data_time=0.01,
                             epoch=epoch, iter=step, step=step))
    rows += list(extra)
    path = Path(work_dir) / stamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return path


def test_costs_are_per_phase_medians_and_ignore_a_slow_window_and_evaluation_rows(tmp_path):
    # 24 iterations/epoch (windows at 10 and 20); phase 1 = epochs 1-2 at 0.5 s/iter, then 1.0;
    # one window of epoch 3 is slow (a checkpoint), one evaluation row has no time
    slow = {(3, 10): 9.0}
    _log(tmp_path, 5, 24, lambda e, i: slow.get((e, i), 0.5 if e <= 2 else 1.0),
         extra=[dict(**{'zsl/top1': 50.0}, step=5)])
    costs = phase_costs(read_train_rows(tmp_path), phase1_epochs=2)
    assert costs['iters_per_epoch'] == 24
    assert costs['phase1'] == pytest.approx(12.0)
    assert costs['phase2'] == pytest.approx(24.0)
    assert (costs['phase1_windows'], costs['phase2_windows']) == (4, 6)


def test_matched_epochs_spend_the_reference_budget():
    ref = dict(phase1=12.0, phase2=24.0)
    cand = dict(phase1=5.0, phase2=10.0)
    # budget 4 * 12 + 26 * 24 = 672 s; the candidate: 1 epoch of 5 s, then (672 - 5) / 10 = 66.7
    # epochs, rounded to 67: 68 in all
    out = match_epochs(ref, 4, 30, cand, 1)
    assert out['budget_s'] == pytest.approx(672.0)
    assert out['epochs'] == 68
    assert out['candidate_s'] == pytest.approx(675.0)
    with pytest.raises(ValueError, match='phase-1 epochs 31'):
        match_epochs(ref, 31, 30, cand, 1)
    with pytest.raises(ValueError, match='take longer'):
        match_epochs(ref, 4, 30, dict(phase1=1000.0, phase2=10.0), 1)


def test_the_newest_launch_is_read(tmp_path):
    _log(tmp_path, 3, 24, lambda e, i: 5.0, stamp='20261201_000000')
    _log(tmp_path, 3, 24, lambda e, i: 1.0, stamp='20261202_000000')
    assert {r['time'] for r in read_train_rows(tmp_path)} == {1.0}


def test_bad_inputs_name_the_file_and_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        read_train_rows(tmp_path / 'missing')
    path = _log(tmp_path / 'short', 2, 24, lambda e, i: 1.0)
    # a timing run that never left phase 1
    with pytest.raises(ValueError, match='no logged iterations in phase2'):
        phase_costs(read_train_rows(path.parents[2]), phase1_epochs=2, where='short')
    path.write_text(path.read_text() + '{not json\n')
    with pytest.raises(ValueError, match=r'scalars.json:5: not a JSON line'):
        read_train_rows(path.parents[2])
    one = _log(tmp_path / 'one', 1, 24, lambda e, i: 1.0)
    with pytest.raises(ValueError, match='iterations per epoch'):
        phase_costs(read_train_rows(one.parents[2]), phase1_epochs=0)


def test_command_line_prints_and_writes_the_match(tmp_path):
    _log(tmp_path / 'ref', 6, 24, lambda e, i: 0.5 if e <= 4 else 1.0)
    _log(tmp_path / 'cand', 3, 24, lambda e, i: 0.2 if e <= 1 else 0.45)
    out = tmp_path / 'match.json'
    proc = subprocess.run([sys.executable, str(TOOL), '--reference', str(tmp_path / 'ref'),
                           '--reference-phase1', '4', '--reference-epochs', '30',
                           '--candidate', str(tmp_path / 'cand'), '--candidate-phase1', '1',
                           '--json', str(out)], capture_output=True, text=True, check=True)
    # budget 4 * 12 + 26 * 24 = 672 s; candidate 4.8 s, then (672 - 4.8) / 10.8 = 61.8 -> 62
    assert 'candidate: 63 epochs' in proc.stdout
    assert json.loads(out.read_text())['epochs'] == 63
