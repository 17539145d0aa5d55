"""svip_mm.experiments.calibrated_run: the calibration of a finished run, its four steps in
order; a finished one reused, an interrupted one continued, a foreign folder never
overwritten."""
import json
import sys
from pathlib import Path

import pytest

from svip_mm.experiments import runs  # its call_tool starts the steps
from svip_mm.experiments.calibrated_run import calibrate_run

from repo import REPO


class FakeCalibrationTools:
    """Stands in for subprocess.call: records each command and leaves what the real tool
    would (the calibration config, the checkpoint, gamma.json, metrics.json). ``fail`` names
    a step whose first call fails (after leaving its checkpoint, for train)."""

    def __init__(self, fail=None):
        self.calls, self.fail = [], fail

    def __call__(self, cmd, cwd, env, stdout, stderr):
        self.calls.append(cmd)
        tool = cmd[1].rsplit('/', 1)[-1]
        step = {'train.py': 'train', 'test.py': 'test'}.get(tool, cmd[2])
        arg = {k: cmd[i + 1] for i, k in enumerate(cmd[:-1]) if k.startswith('--')}
        if step == 'prepare':
            Path(arg['--work-dir'], 'calibration_train.py').write_text('calibration = dict()\n')
        elif step == 'train':
            Path(arg['--work-dir']).mkdir(parents=True, exist_ok=True)
            Path(arg['--work-dir'], 'last_checkpoint').write_text(
                str(Path(arg['--work-dir'], 'epoch_30.pth')))
        elif step == 'gamma':
            Path(arg['--out']).write_text(json.dumps(
                dict(gamma=0.42, H=71.0, cfg_option='test_evaluator.0.gamma=0.42')))
        else:
            Path(arg['--out']).write_text(json.dumps(dict(config=cmd[2], metrics={
                'zsl/top1': 80.0, 'gzsl/U': 65.0, 'gzsl/S': 75.0, 'gzsl/H': 69.6})))
        if step == self.fail:  # once
            self.fail = None
            return 1
        return 0


def _finished_run(tmp_path, seed=2):
    work = tmp_path / 'svip' / f'seed{seed}'
    work.mkdir(parents=True)
    (work / 'last_checkpoint').write_text(str(work / 'epoch_30.pth'))
    record = dict(config='configs/svip_vit_synthetic.py', config_digest='abc', seed=seed,
                  extra=['train_cfg.max_epochs=2'], wall_s=100.0, metrics={'gzsl/H': 60.0})
    (work / 'result.json').write_text(json.dumps(record))
    return work, record


def test_calibration_runs_its_four_steps_in_order_and_extends_the_record(tmp_path, monkeypatch):
    work, record = _finished_run(tmp_path)
    fake = FakeCalibrationTools()
    monkeypatch.setattr(runs.subprocess, 'call', fake)
    cfg, extra = record['config'], record['extra']
    new = calibrate_run(record, cfg, str(work), 1, extra)
    cal = work / 'calibration'
    py, config = sys.executable, str(REPO / cfg)
    assert fake.calls == [
        [py, str(REPO / 'tools/calibrate.py'), 'prepare', config, '--work-dir', str(cal),
         '--seed', '0', '--cfg-options', 'train_cfg.max_epochs=2'],
        [py, str(REPO / 'tools/train.py'), str(cal / 'calibration_train.py'), '--work-dir',
         str(cal / 'train'), '--no-test', '--cfg-options', 'randomness.seed=2',
         'train_cfg.max_epochs=2'],
        [py, str(REPO / 'tools/calibrate.py'), 'gamma', str(cal / 'calibration_train.py'),
         str(cal / 'train' / 'epoch_30.pth'), '--out', str(cal / 'gamma.json'), '--work-dir',
         str(cal / 'gamma')],
        # the run's own checkpoint, at the gamma found (after the run's options: it wins)
        [py, str(REPO / 'tools/test.py'), config, str(work / 'epoch_30.pth'), '--work-dir',
         str(cal / 'test'), '--out', str(cal / 'metrics.json'), '--cfg-options',
         'train_cfg.max_epochs=2', 'test_evaluator.0.gamma=0.42']]
    got = new['calibrated']
    assert {k: got[k] for k in ('gamma', 'option', 'U', 'S', 'H', 'T1', 'calibration_H')} == dict(
        gamma=0.42, option='test_evaluator.0.gamma=0.42', U=65.0, S=75.0, H=69.6, T1=80.0,
        calibration_H=71.0)
    assert got['config_digest'] == 'abc' and got['extra'] == extra
    assert got['checkpoint'] == str(work / 'epoch_30.pth')
    state = json.loads((cal / 'calibration.json').read_text())
    assert list(state['steps']) == ['prepare', 'train', 'gamma', 'test']
    assert got['wall_s'] == pytest.approx(sum(s['wall_s'] for s in state['steps'].values()))
    # the run's own record is kept, the calibration added to it, and stored
    assert {k: v for k, v in new.items() if k != 'calibrated'} == record
    assert json.loads((work / 'result.json').read_text()) == new


def test_a_finished_calibration_is_reused_and_an_interrupted_one_continues(tmp_path,
                                                                          monkeypatch):
    work, record = _finished_run(tmp_path, seed=1)
    fake = FakeCalibrationTools(fail='train')
    monkeypatch.setattr(runs.subprocess, 'call', fake)
    with pytest.raises(RuntimeError, match=r'step train of .* seed 1 failed with exit code 1; '
                                           r'see .*train\.out \(run the experiment again'):
        calibrate_run(record, record['config'], str(work), 1, record['extra'])
    assert 'calibrated' not in json.loads((work / 'result.json').read_text())
    # again: prepare is not repeated, the training resumes from its checkpoint
    new = calibrate_run(record, record['config'], str(work), 1, record['extra'])
    steps = [c[2] if 'calibrate.py' in c[1] else c[1].rsplit('/', 1)[-1] for c in fake.calls]
    assert steps == ['prepare', 'train.py', 'train.py', 'gamma', 'test.py']
    assert '--resume' not in fake.calls[1] and '--resume' in fake.calls[2]
    assert (work / 'calibration' / 'train.out.1').is_file()  # the failed attempt's output
    state = json.loads((work / 'calibration' / 'calibration.json').read_text())
    assert state['steps']['train']['attempts'] == 2
    # finished: the record is returned as it is; without its entry, the steps' files are read
    assert calibrate_run(new, record['config'], str(work), 1, record['extra']) is new
    assert calibrate_run(record, record['config'], str(work), 1, record['extra']) == new
    assert len(fake.calls) == 5
    # other options: the calibration no longer matches the run; the folder is not overwritten
    with pytest.raises(RuntimeError, match=r'calibration\.json was made from another extra .*'
                                           r'nothing is overwritten'):
        calibrate_run(dict(record, extra=[]), record['config'], str(work), 1, [])
    with pytest.raises(RuntimeError, match='another config_digest'):
        calibrate_run(dict(record, config_digest='new'), record['config'], str(work), 1,
                           record['extra'])
    assert len(fake.calls) == 5


def test_a_calibration_folder_the_tool_did_not_make_is_not_overwritten(tmp_path, monkeypatch):
    work, record = _finished_run(tmp_path)
    (work / 'calibration').mkdir()
    (work / 'calibration' / 'gamma.json').write_text('{}')
    monkeypatch.setattr(runs.subprocess, 'call', FakeCalibrationTools())
    with pytest.raises(RuntimeError, match=r'calibration exists without .*calibration\.json.*'
                                           'nothing is overwritten'):
        calibrate_run(record, record['config'], str(work), 1, [])
    assert (work / 'calibration' / 'gamma.json').read_text() == '{}'
