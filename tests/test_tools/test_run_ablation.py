"""tools/run_ablation.py, the command line of svip_mm.experiments: an unknown variant is refused;
the methods experiment calibrates each run after it and writes the methods report, the others
do not (the library itself: tests/test_experiments)."""
import pytest

import svip_mm.experiments.experiment

from repo import load_tool


def _tool():
    return load_tool('run_ablation')


def test_unknown_variant_is_refused():
    with pytest.raises(SystemExit, match="unknown variants \\['svipp'\\]"):
        _tool().main(['ablation', '--only', 'svipp'])


def test_the_methods_experiment_calibrates_each_run_after_it(tmp_path, monkeypatch):
    tool = _tool()
    order = []

    def fake_run(cfg, seed, work_dir, threads, extra, allow_retest=False):
        order.append(('run', cfg, seed, work_dir))
        return dict(config=cfg, seed=seed, extra=extra, wall_s=1.0,
                    metrics={'zsl/top1': 1.0, 'gzsl/U': 1.0, 'gzsl/S': 1.0, 'gzsl/H': 1.0})

    def fake_calibrate(record, cfg, work_dir, threads, extra):
        order.append(('calibrate', cfg, record['seed'], work_dir))
        return dict(record, calibrated=dict(gamma=0.3, U=2.0, S=2.0, H=2.0, T1=1.0, wall_s=1.0))

    # where svip_mm.experiments.experiment.run_experiment looks them up
    experiment = svip_mm.experiments.experiment
    monkeypatch.setattr(experiment, 'prepare_data', lambda cfg: None)
    monkeypatch.setattr(experiment, 'run_one', fake_run)
    monkeypatch.setattr(experiment, 'calibrate_run', fake_calibrate)
    report = tmp_path / 'methods.md'
    tool.main(['methods', '--only', 'apn', '--seeds', '0', '1', '--jobs', '1', '--threads', '1',
               '--work-dir', str(tmp_path), '--report', str(report)])
    cfg = 'configs/apn/apn_vit_synthetic.py'
    assert order == [(step, cfg, seed, str(tmp_path / 'apn' / f'seed{seed}'))
                     for seed in (0, 1) for step in ('run', 'calibrate')]
    assert '| APN | 1.0 ± 0.0 | 1.0 ± 0.0 | 1.0 ± 0.0 | 1.0 ± 0.0 | 2.0 ± 0.0 | 0.30 ± 0.00 |' \
        in report.read_text()
    # the other experiments are not calibrated
    order.clear()
    tool.main(['difficulty', '--only', 'clean', '--seeds', '0', '--jobs', '1', '--work-dir',
               str(tmp_path), '--report', str(tmp_path / 'difficulty.md')])
    assert [o[0] for o in order] == ['run']
