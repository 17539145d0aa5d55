"""svip_mm.experiments.experiment: a whole experiment, each run extended as its data file
asks, and the report its data file calls for."""
from svip_mm.experiments import experiment
from svip_mm.experiments.experiment import run_experiment, write_report

RUN = dict(wall_s=1.0, metrics={'zsl/top1': 1.0, 'gzsl/U': 1.0, 'gzsl/S': 1.0, 'gzsl/H': 1.0})


def test_the_report_is_the_methods_report_where_the_file_calibrates(tmp_path):
    calibrated = dict(RUN, seed=0, calibrated=dict(gamma=0.3, H=2.0, wall_s=1.0))
    lines = write_report('methods', {'svip': [calibrated]}, str(tmp_path / 'methods.md'),
                         ['methods', '--seeds', '0'])
    text = (tmp_path / 'methods.md').read_text()
    assert lines == [] and '# Methods under one protocol: methods' in text
    assert 'Report written by `python tools/run_ablation.py methods --seeds 0` on ' in text
    lines = write_report('difficulty', {'clean': [dict(RUN, seed=0)]},
                         str(tmp_path / 'difficulty.md'), ['difficulty'])
    assert lines == []  # its criteria need the baseline, which did not run
    assert '# Synthetic-data experiment: difficulty' in (tmp_path / 'difficulty.md').read_text()
    assert (tmp_path / 'difficulty.png').is_file()


def test_data_first_then_each_run_probed_and_nothing_calibrated_outside_methods(
        tmp_path, monkeypatch):
    order = []
    monkeypatch.setattr(experiment, 'prepare_data',
                        lambda cfg: order.append(('data', cfg.filename.rsplit('/', 1)[-1],
                                                  cfg.train_cfg.max_epochs)))
    monkeypatch.setattr(experiment, 'run_one',
                        lambda cfg, seed, work_dir, threads, extra, allow_retest=False:
                        order.append(('run', seed, allow_retest, threads, extra))
                        or dict(RUN, seed=seed, config=cfg))
    monkeypatch.setattr(experiment, 'probe_attention',
                        lambda record, probe, work_dir, threads:
                        order.append(('probe', record['seed'], probe)) or record)
    monkeypatch.setattr(experiment, 'calibrate_run', lambda *args: order.append('calibrate'))
    report = tmp_path / 'sub' / 'pretrained.md'
    run_experiment('pretrained', [0, 1], str(tmp_path), str(report), ['pretrained'],
                   only=['baseline_pt'], threads=3, retest=['baseline_pt'],
                   cfg_options=['train_cfg.max_epochs=2'])
    probe = 'configs/pretrained/svip_vit_synthetic_pretrained_attention.py'
    # the data is prepared with the options the runs get
    assert order == [('data', 'baseline_vit_synthetic_pretrained.py', 2)] + [
        step for seed in (0, 1) for step in (
            ('run', seed, True, 3, ['train_cfg.max_epochs=2']), ('probe', seed, probe))]
    assert report.is_file()  # its folder made
