"""tools/run_ablation.py: its experiments name real configs; statistics, report and reuse; the
calibration of finished runs and the methods report (svip_mm.evaluation.comparison)."""
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from mmengine.config import Config

from repo import REPO, load_tool


def _tool():
    return load_tool('run_ablation')


def test_every_experiment_config_loads_and_differs_from_the_others_in_its_experiment():
    tool = _tool()
    for experiment, entries in tool.EXPERIMENTS.items():
        texts = set()
        epochs = Config.fromfile(str(REPO / entries[0][2])).train_cfg.max_epochs
        for key, _, path in entries:
            cfg = Config.fromfile(str(REPO / path))
            if key.endswith('_time'):  # given the first variant's wall time: more epochs
                assert cfg.train_cfg.max_epochs > epochs, path
            elif key in tool.ATTENTION_ONLY:  # not trained: only its attention is measured
                assert cfg.train_cfg.max_epochs == 0, path
            else:  # same schedule
                assert cfg.train_cfg.max_epochs == epochs, path
            texts.add(cfg.pretty_text)
        assert len(texts) == len(entries), experiment
        keys = {k for k, _, _ in entries}
        for _, a, b, _, _ in tool.CRITERIA[experiment]:
            assert {a, b} <= keys
        for _, key, _, _ in tool.ABSOLUTE_CRITERIA.get(experiment, []):
            assert key in keys
    for key, probe in tool.ATTENTION_PROBE.items():
        assert Config.fromfile(str(REPO / probe)).train_cfg.max_epochs == 0, probe
        assert any(key in {k for k, _, _ in e} for e in tool.EXPERIMENTS.values())


def test_summary_statistics_are_mean_sample_std_and_range():
    s = _tool().summarise([50.0, 60.0, 70.0])
    assert s == dict(mean=60.0, std=10.0, min=50.0, max=70.0, n=3)
    assert _tool().summarise([5.0])['std'] == 0.0


def _record(seed, h, t1=70.0, auroc=None, unseen_shape=None):
    metrics = {'zsl/top1': t1, 'gzsl/U': h, 'gzsl/S': h, 'gzsl/H': h}
    if auroc is not None:
        metrics['selection/selector_auroc'] = auroc
    if unseen_shape is not None:
        metrics['attributes/shape_unseen'] = unseen_shape
        metrics['attributes/mean_unseen'] = unseen_shape
    return dict(seed=seed, wall_s=100.0 + seed, metrics=metrics)


def test_report_table_criteria_and_figure(tmp_path):
    tool = _tool()
    args = tool.parse_args(['difficulty', '--seeds', '0', '1', '--report',
                            str(tmp_path / 'difficulty.md')])
    records = {'clean': [_record(0, 50.0), _record(1, 54.0)],
               'baseline': [_record(0, 44.0, unseen_shape=40.0),
                           _record(1, 46.0, unseen_shape=50.0)],
               'oracle_mask': [_record(0, 52.0), _record(1, 54.0)]}
    records['oracle_mask'][1]['attempts'] = 2
    criteria = tool.write_report(args, records, args.report)
    # clean 52 - clutter 45 = +7 (>= 5: met); oracle 53 - clutter 45 = +8 (< 10: not met)
    assert criteria == ['- clutter costs >= 5 H (clean - clutter): +7.0 -> met; per seed '
                        '0: +6.0, 1: +8.0 (every seed positive)',
                        '- oracle masking wins >= 10 H back (oracle - clutter): +8.0 -> NOT met; '
                        'per seed 0: +8.0, 1: +8.0 (every seed positive)']
    text = (tmp_path / 'difficulty.md').read_text()
    assert '| ViT + head, clean background | 70.0 ± 0.0 (70.0–70.0) |' in text
    assert '52.0 ± 2.8 (50.0–54.0)' in text  # H of the clean runs, std of 50 and 54
    assert '| ViT + head, clutter | 45.0 ± 7.1 (40.0–50.0) | 45.0 ± 7.1 (40.0–50.0) |' in text
    assert (tmp_path / 'difficulty.png').stat().st_size > 1000
    # the resumed run, and only it, is marked
    assert text.count('(resumed)') == 2 and 'oracle_mask.py` (resumed) | 1 |' in text


def test_pretrained_report_attention_only_row_absolute_criterion_and_negative_seed(tmp_path):
    tool = _tool()
    args = tool.parse_args(['pretrained', '--seeds', '0', '1', '--report',
                            str(tmp_path / 'pretrained.md')])
    svip = [_record(0, 60.0, auroc=0.86), _record(1, 50.0, auroc=0.82)]
    base = [_record(0, 55.0), _record(1, 51.0)]
    attn = [_record(0, 1.0), _record(1, 2.0)]
    for r, a in zip(svip + base + attn, [0.8, 0.7, 0.6, 0.5, 0.85, 0.85]):
        r['metrics']['selection/attention_auroc'] = a
    records = {'svip_pt': svip, 'baseline_pt_time': base, 'pretrained_attn': attn}
    criteria = tool.write_report(args, records, args.report)
    # 55 - 53 = +2 (< 3), seed 1 +(-1): not every seed; selector mean 0.84 < 0.85
    assert criteria == ['- SVIP beats the baseline by >= 3 H (pretrained ViT, same time: 60 '
                        'epochs): +2.0 '
                        '-> NOT met; per seed 0: +5.0, 1: -1.0 (NOT every seed positive)',
                        '- selector AUROC >= 0.85 (pretrained ViT): mean 0.840 -> NOT met']
    text = (tmp_path / 'pretrained.md').read_text()
    # the untrained model shows its attention only, in the table and in the runs
    assert ('| pretrained ViT before fine-tuning (attention only) | - | - | - | - | - | '
            '0.850 ± 0.000 (0.850–0.850) |') in text
    assert '_attention.py` | 1 | - | - | - | - | - | 0.850 | 101 |' in text
    assert '| 0.750 ± 0.071 (0.700–0.800) |' in text  # SVIP's attention AUROC


def test_figure_legend_with_every_variant_is_not_cut_at_the_edges(tmp_path):
    tool = _tool()
    args = tool.parse_args(['pretrained', '--seeds', '0', '--report',
                            str(tmp_path / 'pretrained.md')])
    records = {key: [_record(0, 50.0 + i)]
               for i, (key, _, _) in enumerate(tool.EXPERIMENTS['pretrained'])}
    tool.write_report(args, records, args.report)
    # long labels reaching the image's border would be cut there: its border columns stay white
    image = plt.imread(str(tmp_path / 'pretrained.png'))[..., :3]
    assert (image[:, :2] == 1.0).all() and (image[:, -2:] == 1.0).all()


def test_attention_probe_tests_the_run_checkpoint_in_the_probe_config(tmp_path, monkeypatch):
    tool = _tool()
    work = tmp_path / 'run'
    work.mkdir()
    (work / 'last_checkpoint').write_text(str(work / 'epoch_30.pth'))
    record = dict(config='c.py', seed=2, wall_s=7.0, metrics={'gzsl/H': 1.0})
    calls = []

    def fake_train(cmd, cwd, env, stdout, stderr):  # what a 0-epoch tools/train.py leaves
        calls.append(cmd)
        out = tmp_path / cmd[cmd.index('--work-dir') + 1] / 'stamp'
        out.mkdir(parents=True)
        (out / 'stamp.json').write_text(json.dumps({'gzsl/H': 3.0,
                                                    'selection/attention_auroc': 0.9}))
        return 0

    monkeypatch.setattr(tool.subprocess, 'call', fake_train)
    probe = tool.ATTENTION_PROBE['baseline_pt']
    new = tool.probe_attention(record, probe, str(work), 1)
    assert calls[0][1].endswith('tools/train.py') and calls[0][2].endswith(probe)
    assert f'model.backbone.init_cfg.checkpoint={work / "epoch_30.pth"}' in calls[0]
    assert 'randomness.seed=2' in calls[0]
    # only the attention AUROC is taken from the probe; the run's own metrics stay
    assert new['metrics'] == {'gzsl/H': 1.0, 'selection/attention_auroc': 0.9}
    assert new['attention_probe'] == probe
    assert json.loads((work / 'result.json').read_text()) == new
    assert tool.probe_attention(new, probe, str(work), 1) is new and len(calls) == 1


def test_a_finished_run_is_reused_and_a_different_one_is_never_overwritten(tmp_path):
    tool = _tool()
    cfg = 'configs/baseline_vit_synthetic.py'
    work = tmp_path / 'run'
    work.mkdir()
    stored = dict(config=cfg, config_digest=tool.file_digest(str(REPO / cfg)), seed=0,
                  extra=[], wall_s=1.0, metrics={'gzsl/H': 1.0})
    (work / 'result.json').write_text(json.dumps(stored))
    assert tool.run_one(cfg, 0, str(work), 1, []) == stored
    stored['config_digest'] = 'something else'
    (work / 'result.json').write_text(json.dumps(stored))
    with pytest.raises(RuntimeError, match='another config or options.*nothing is overwritten'):
        tool.run_one(cfg, 0, str(work), 1, [])


def test_a_run_from_another_pretrained_backbone_is_not_reused(tmp_path, capsys):
    tool = _tool()
    pre = tmp_path / 'pretrain.py'
    pre.write_text('epochs = 30\n')
    cfg = tmp_path / 'finetune.py'
    cfg.write_text(f"data_preparation = [dict(type='pretrained_backbone', config={str(pre)!r}, "
                   "seed=0, out='data/backbone.pth'), dict(type='synthetic_zsl')]\n")
    work = tmp_path / 'run'
    work.mkdir()
    digests = tool.pretraining_digests(str(cfg))
    assert list(digests) == ['data/backbone.pth']
    stored = dict(config=str(cfg), config_digest=tool.file_digest(str(cfg)), seed=0, extra=[],
                  wall_s=1.0, metrics={'gzsl/H': 1.0}, pretraining=digests)
    (work / 'result.json').write_text(json.dumps(stored))
    assert tool.run_one(str(cfg), 0, str(work), 1, []) == stored
    # the pretraining config changes; the fine-tuning config's own digest does not see it
    pre.write_text('epochs = 60\n')
    assert tool.file_digest(str(cfg)) == stored['config_digest']
    assert tool.pretraining_digests(str(cfg)) != digests
    with pytest.raises(RuntimeError, match='another pretrained backbone.*nothing is overwritten'):
        tool.run_one(str(cfg), 0, str(work), 1, [])
    with pytest.raises(RuntimeError, match='another pretrained backbone'):
        tool.run_one(str(cfg), 0, str(work), 1, [], allow_retest=True)
    # a record from before the digest was recorded is reused, and the log says it is unchecked
    del stored['pretraining']
    (work / 'result.json').write_text(json.dumps(stored))
    capsys.readouterr()
    assert tool.run_one(str(cfg), 0, str(work), 1, []) == stored
    assert 'cannot be detected' in capsys.readouterr().out


def test_pretraining_digests_resolve_step_paths_against_the_repository(tmp_path, monkeypatch):
    tool = _tool()
    monkeypatch.chdir(tmp_path)  # not the repository
    cfg = str(REPO / 'configs/pretrained/svip_vit_synthetic_pretrained.py')
    digests = tool.pretraining_digests(cfg)
    assert list(digests) == ['data/pretrained/vit_synthetic_source_seed0.pth']
    # the seed is part of what the backbone is made from
    other = tmp_path / 'seed1.py'
    other.write_text(f"_base_ = [{cfg!r}]\n"
                     "data_preparation = [dict(type='pretrained_backbone', "
                     "config='configs/pretrain/vit_synthetic_source.py', seed=1, "
                     "out='data/pretrained/vit_synthetic_source_seed0.pth')]\n")
    assert tool.pretraining_digests(str(other)) != digests
    # configs without the step record nothing
    assert tool.pretraining_digests(str(REPO / 'configs/baseline_vit_synthetic.py')) == {}


def test_retest_evaluates_the_checkpoint_again_and_keeps_the_old_record(tmp_path, monkeypatch):
    tool = _tool()
    cfg = 'configs/baseline_vit_synthetic.py'
    work = tmp_path / 'run'
    work.mkdir()
    (work / 'last_checkpoint').write_text(str(work / 'epoch_30.pth'))
    old = dict(config=cfg, config_digest='0ld', seed=1, extra=[], wall_s=7.0,
               metrics={'gzsl/H': 1.0}, calibrated=dict(H=5.0, config_digest='0ld'))
    (work / 'result.json').write_text(json.dumps(old))
    calls = []

    def fake_test(cmd, cwd, env, stdout, stderr):  # what tools/test.py leaves behind
        calls.append(cmd)
        out = cmd[cmd.index('--work-dir') + 1]
        (tmp_path / out / 'stamp').mkdir(parents=True)
        (tmp_path / out / 'stamp' / 'stamp.json').write_text(json.dumps({'gzsl/H': 2.0}))
        return 0

    monkeypatch.setattr(tool.subprocess, 'call', fake_test)
    new = tool.run_one(cfg, 1, str(work), 1, [], allow_retest=True)
    assert calls[0][1].endswith('tools/test.py') and calls[0][3] == str(work / 'epoch_30.pth')
    assert new['metrics'] == {'gzsl/H': 2.0} and new['wall_s'] == 7.0
    assert new['retested_from'] == '0ld'
    assert 'calibrated' not in new  # it tested the old config
    assert new['config_digest'] == tool.file_digest(str(REPO / cfg))
    assert json.loads((work / 'result.0ld.json').read_text()) == old
    assert json.loads((work / 'result.json').read_text()) == new


def test_a_run_that_failed_after_training_is_resumed_and_its_attempts_are_timed(
        tmp_path, monkeypatch):
    tool = _tool()
    cfg = 'configs/baseline_vit_synthetic.py'
    work = tmp_path / 'run'
    calls = []

    def fake_train(cmd, cwd, env, stdout, stderr):  # 1st: trains, then the test fails
        calls.append(cmd)
        stdout.write(f'attempt {len(calls)}')
        if len(calls) == 1:
            (work / 'last_checkpoint').write_text(str(work / 'epoch_30.pth'))
            return 1
        (work / 'stamp').mkdir()
        (work / 'stamp' / 'stamp.json').write_text(json.dumps({'gzsl/H': 3.0}))
        return 0

    monkeypatch.setattr(tool.subprocess, 'call', fake_train)
    with pytest.raises(RuntimeError, match='failed with exit code 1.*again to resume'):
        tool.run_one(cfg, 2, str(work), 1, [])
    assert not (work / 'result.json').exists() and '--resume' not in calls[0]
    record = tool.run_one(cfg, 2, str(work), 1, [])
    assert calls[1][1].endswith('tools/train.py') and '--resume' in calls[1]
    assert record['metrics'] == {'gzsl/H': 3.0} and record['attempts'] == 2
    attempts = json.loads((work / 'attempts.json').read_text())
    assert [(a['exit_code'], a['resumed']) for a in attempts] == [(1, False), (0, True)]
    assert record['wall_s'] == pytest.approx(sum(a['wall_s'] for a in attempts))
    # the first attempt's output is kept
    assert (work / 'train.1.out').read_text() == 'attempt 1'
    assert (work / 'train.out').read_text() == 'attempt 2'


def test_test_metrics_come_from_the_last_line_of_the_newest_json_log(tmp_path):
    tool = _tool()
    for stamp, h in [('20260101_000000', 1.0), ('20260102_000000', 2.0)]:
        (tmp_path / stamp).mkdir()
        lines = [{'loss': 3.0, 'epoch': 1}, {'gzsl/H': h, 'zsl/top1': 5.0}]
        (tmp_path / stamp / f'{stamp}.json').write_text('\n'.join(map(json.dumps, lines)))
    assert tool.read_test_metrics(str(tmp_path))['gzsl/H'] == 2.0
    with pytest.raises(RuntimeError, match='no test metrics'):
        tool.read_test_metrics(str(tmp_path / 'nothing'))


def test_unknown_variant_is_refused():
    with pytest.raises(SystemExit, match="unknown variants \\['svipp'\\]"):
        _tool().main(['ablation', '--only', 'svipp'])
    assert np.isclose(_tool().summarise([1.0, 3.0])['std'], np.sqrt(2))


def test_experiments_are_read_from_their_data_files(tmp_path):
    tool = _tool()
    assert sorted(tool.EXPERIMENTS) == sorted(
        p.stem for p in (REPO / 'configs/experiments').glob('*.py'))
    (tmp_path / 'mine.py').write_text(
        "variants = [dict(key='a', label='A', config='configs/svip_vit_synthetic.py'),\n"
        "            dict(key='b', label='B', config='configs/baseline_vit_synthetic.py',\n"
        "                 attention_probe='probe.py')]\n"
        "criteria = [dict(text='A beats B', a='a', b='b', metric='gzsl/H', least=3)]\n")
    experiments, criteria, absolute, attention_only, probes = tool.load_experiments(str(tmp_path))
    assert experiments == {'mine': [('a', 'A', 'configs/svip_vit_synthetic.py'),
                                    ('b', 'B', 'configs/baseline_vit_synthetic.py')]}
    assert criteria == {'mine': [('A beats B', 'a', 'b', 'gzsl/H', 3.0)]}
    assert absolute == {} and attention_only == set() and probes == {'b': 'probe.py'}
    (tmp_path / 'broken.py').write_text("variants = []\n")
    with pytest.raises(ValueError, match=r'broken\.py: expected the keys variants and criteria, '
                                         r"missing \['criteria'\]"):
        tool.load_experiments(str(tmp_path))


# --------------------------------------------------------------------------- methods comparison
def test_paired_difference_on_hand_made_numbers():
    from svip_mm.evaluation import inside_seed_spread, paired_difference
    # seed 3 has no partner: left out. Differences +2, -3, +3: mean 2/3, deviations 4/3, -11/3,
    # 7/3, squares 16/9 + 121/9 + 49/9 = 186/9, / 2 -> std sqrt(31/3) = 3.2146
    d = paired_difference({0: 60.0, 1: 50.0, 2: 55.0}, {0: 58.0, 1: 53.0, 2: 52.0, 3: 99.0})
    assert d['seeds'] == [0, 1, 2] and d['diffs'] == [2.0, -3.0, 3.0] and d['n'] == 3
    assert d['mean'] == pytest.approx(2 / 3)
    assert d['std'] == pytest.approx(np.sqrt(31 / 3))
    assert (d['min'], d['max']) == (-3.0, 3.0)
    # A: 60, 50, 55 (mean 55, deviations 5, -5, 0: std 5); B: 58, 53, 52 (std sqrt(31/3))
    assert d['std_a'] == pytest.approx(5.0) and d['std_b'] == pytest.approx(np.sqrt(31 / 3))
    assert d['spread'] == pytest.approx(5.0) and d['inside_spread'] is True  # 0.67 <= 5
    # +10, +11: mean 10.5; A 70, 72 (std sqrt 2), B 60, 61 (std sqrt(1/2)): 10.5 > 1.41
    far = paired_difference({0: 70.0, 1: 72.0}, {0: 60.0, 1: 61.0})
    assert far['mean'] == 10.5 and far['std'] == pytest.approx(np.sqrt(0.5))
    assert far['spread'] == pytest.approx(np.sqrt(2)) and far['inside_spread'] is False
    # the rule's edge: equal is inside; one seed has no spread
    assert inside_seed_spread(-2.0, 2.0, 1.0, 3) is True
    assert inside_seed_spread(2.01, 2.0, 1.0, 3) is False
    assert paired_difference({0: 1.0}, {0: 3.0})['inside_spread'] is None
    with pytest.raises(ValueError, match=r'no seed in common.*\[0\].*\[1\]'):
        paired_difference({0: 1.0}, {1: 1.0})


def test_paired_difference_and_methods_rows_are_formatted():
    from svip_mm.evaluation import (format_methods_rows, format_paired_difference,
                                    paired_difference)
    d = paired_difference({0: 60.0, 1: 50.0, 2: 55.0}, {0: 58.0, 1: 53.0, 2: 52.0})
    assert format_paired_difference('A - B, H', d) == (
        '- A - B, H: +0.7 ± 3.2 (min -3.0, max +3.0) over seeds [0, 1, 2]; per seed 0: +2.0, '
        '1: -3.0, 2: +3.0; inside the seed spread (|0.7| <= 5.0, the larger seed std)')
    far = paired_difference({0: 70.0, 1: 72.0}, {0: 60.0, 1: 61.0})
    assert format_paired_difference('A - B', far).endswith(
        'OUTSIDE the seed spread (|10.5| > 1.4, the larger seed std)')
    assert format_paired_difference('A - B', paired_difference({4: 1.0}, {4: 3.0})).endswith(
        'per seed 4: -2.0; one seed: no spread to judge against')
    rows = format_methods_rows(
        [dict(label='A', values={'h': [50.0, 54.0], 'g': [0.4, 0.5]}),
         dict(label='T', transductive=True, values={'h': [1.0]})],
        [('h', 'H', 1), ('g', 'γ', 2)])
    # std of 50 and 54: sqrt(8) = 2.83; of 0.4 and 0.5: sqrt(0.005) = 0.07
    assert rows == ['| method | H | γ |', '|---|---|---|', '| A | 52.0 ± 2.8 | 0.45 ± 0.07 |',
                    '| T (transductive) | 1.0 ± 0.0 | - |']


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
    tool = _tool()
    work, record = _finished_run(tmp_path)
    fake = FakeCalibrationTools()
    monkeypatch.setattr(tool.subprocess, 'call', fake)
    cfg, extra = record['config'], record['extra']
    new = tool.calibrate_run(record, cfg, str(work), 1, extra)
    cal = work / 'calibration'
    py, config = tool.sys.executable, str(REPO / cfg)
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
    tool = _tool()
    work, record = _finished_run(tmp_path, seed=1)
    fake = FakeCalibrationTools(fail='train')
    monkeypatch.setattr(tool.subprocess, 'call', fake)
    with pytest.raises(RuntimeError, match=r'step train of .* seed 1 failed with exit code 1; '
                                           r'see .*train\.out \(run the experiment again'):
        tool.calibrate_run(record, record['config'], str(work), 1, record['extra'])
    assert 'calibrated' not in json.loads((work / 'result.json').read_text())
    # again: prepare is not repeated, the training resumes from its checkpoint
    new = tool.calibrate_run(record, record['config'], str(work), 1, record['extra'])
    steps = [c[2] if 'calibrate.py' in c[1] else c[1].rsplit('/', 1)[-1] for c in fake.calls]
    assert steps == ['prepare', 'train.py', 'train.py', 'gamma', 'test.py']
    assert '--resume' not in fake.calls[1] and '--resume' in fake.calls[2]
    assert (work / 'calibration' / 'train.out.1').is_file()  # the failed attempt's output
    state = json.loads((work / 'calibration' / 'calibration.json').read_text())
    assert state['steps']['train']['attempts'] == 2
    # finished: the record is returned as it is; without its entry, the steps' files are read
    assert tool.calibrate_run(new, record['config'], str(work), 1, record['extra']) is new
    assert tool.calibrate_run(record, record['config'], str(work), 1, record['extra']) == new
    assert len(fake.calls) == 5
    # other options: the calibration no longer matches the run; the folder is not overwritten
    with pytest.raises(RuntimeError, match=r'calibration\.json was made from another extra .*'
                                           r'nothing is overwritten'):
        tool.calibrate_run(dict(record, extra=[]), record['config'], str(work), 1, [])
    with pytest.raises(RuntimeError, match='another config_digest'):
        tool.calibrate_run(dict(record, config_digest='new'), record['config'], str(work), 1,
                           record['extra'])
    assert len(fake.calls) == 5


def test_a_calibration_folder_the_tool_did_not_make_is_not_overwritten(tmp_path, monkeypatch):
    tool = _tool()
    work, record = _finished_run(tmp_path)
    (work / 'calibration').mkdir()
    (work / 'calibration' / 'gamma.json').write_text('{}')
    monkeypatch.setattr(tool.subprocess, 'call', FakeCalibrationTools())
    with pytest.raises(RuntimeError, match=r'calibration exists without .*calibration\.json.*'
                                           'nothing is overwritten'):
        tool.calibrate_run(record, record['config'], str(work), 1, [])
    assert (work / 'calibration' / 'gamma.json').read_text() == '{}'


def test_the_methods_experiment_calibrates_each_run_after_it(tmp_path, monkeypatch):
    import svip_mm.engine
    tool = _tool()
    order = []

    def fake_run(cfg, seed, work_dir, threads, extra, allow_retest=False):
        order.append(('run', cfg, seed, work_dir))
        return dict(config=cfg, seed=seed, extra=extra, wall_s=1.0,
                    metrics={'zsl/top1': 1.0, 'gzsl/U': 1.0, 'gzsl/S': 1.0, 'gzsl/H': 1.0})

    def fake_calibrate(record, cfg, work_dir, threads, extra):
        order.append(('calibrate', cfg, record['seed'], work_dir))
        return dict(record, calibrated=dict(gamma=0.3, U=2.0, S=2.0, H=2.0, T1=1.0, wall_s=1.0))

    monkeypatch.setattr(svip_mm.engine, 'prepare_data', lambda cfg: None)
    monkeypatch.setattr(tool, 'run_one', fake_run)
    monkeypatch.setattr(tool, 'calibrate_run', fake_calibrate)
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


def _method_record(seed, h, cal_h, gamma=0.4, t1=70.0, wall=100.0):
    metrics = {'zsl/top1': t1, 'gzsl/U': h - 5, 'gzsl/S': h + 5, 'gzsl/H': h,
               'oracle/H': cal_h + 3, 'official/H': cal_h + 6}
    return dict(seed=seed, wall_s=wall, config_digest='d', metrics=metrics,
                calibrated=dict(gamma=gamma, U=cal_h - 4, S=cal_h + 4, H=cal_h, T1=t1,
                                wall_s=wall / 2))


def test_methods_report_columns_labels_and_paired_differences(tmp_path):
    tool = _tool()
    args = tool.parse_args(['methods', '--seeds', '0', '1', '2', '--report',
                            str(tmp_path / 'methods.md')])
    records = {
        'svip': [_method_record(0, 60.0, 64.0), _method_record(1, 50.0, 66.0),
                 _method_record(2, 55.0, 68.0)],
        # H at gamma 0: +2, -3, +3 against SVIP; TransZero's std over 62, 47, 58: deviations
        # 19/3, -26/3, 7/3 -> sqrt(1086 / 18) = 7.77 > SVIP's 5.0: inside (0.7 <= 7.8).
        # Calibrated: +10, +10, +11 (mean 10.3, std sqrt(1/3) = 0.6); SVIP's std 2.0,
        # TransZero's over 74, 76, 79: sqrt(38 / 6) = 2.52: outside (10.3 > 2.5)
        'transzero': [_method_record(0, 62.0, 74.0, gamma=0.5), _method_record(1, 47.0, 76.0),
                      _method_record(2, 58.0, 79.0)],
        'svip_pt': [_method_record(0, 63.0, 66.0), _method_record(1, 65.0, 68.0)],
        'apn_pt': [_method_record(0, 60.0, 70.0), _method_record(1, 61.0, 70.0)],
    }
    lines = tool.write_report(args, records, args.report)
    text = (tmp_path / 'methods.md').read_text()
    header = ('| method | ZSL T1 | U (γ 0) | S (γ 0) | H (γ 0) | H, calibrated γ | calibrated γ | '
              'oracle H (test-tuned γ) | official H (test-tuned γ, per-sample) | training (s) | '
              'calibration (s) |')
    assert text.count(header) == 2  # one table per regime
    assert text.index('## from scratch') < text.index('## from the pretrained source ViT')
    # SVIP: H 60, 50, 55 -> 55.0 ± 5.0; calibrated 64, 66, 68 -> 66.0 ± 2.0; gamma 0.40;
    # oracle = calibrated + 3, official + 6; wall 100 and 50
    assert ('| SVIP | 70.0 ± 0.0 | 50.0 ± 5.0 | 60.0 ± 5.0 | 55.0 ± 5.0 | 66.0 ± 2.0 | '
            '0.40 ± 0.00 | 69.0 ± 2.0 | 72.0 ± 2.0 | 100 ± 0 | 50 ± 0 |') in text
    # the transductive method is marked in its row, the mark explained once
    assert '| TransZero (transductive) | 70.0 ± 0.0 |' in text
    assert "(transductive): the method reads the unseen classes' attribute vectors" in text
    assert 'Test-tuned' in text and 'never a result' in text
    assert lines == [
        '- TransZero - SVIP, H at gamma 0: +0.7 ± 3.2 (min -3.0, max +3.0) over seeds [0, 1, 2]; '
        'per seed 0: +2.0, 1: -3.0, 2: +3.0; inside the seed spread (|0.7| <= 7.8, the larger '
        'seed std)',
        '- TransZero - SVIP, calibrated H: +10.3 ± 0.6 (min +10.0, max +11.0) over seeds '
        '[0, 1, 2]; per seed 0: +10.0, 1: +10.0, 2: +11.0; OUTSIDE the seed spread (|10.3| > '
        '2.5, the larger seed std)',
        # the pretrained regime is paired with its own reference; APN's H std 0.7, SVIP's 1.4
        '- APN, pretrained ViT - SVIP, pretrained ViT, H at gamma 0: -3.5 ± 0.7 (min -4.0, max '
        '-3.0) over seeds [0, 1]; per seed 0: -3.0, 1: -4.0; OUTSIDE the seed spread (|-3.5| > '
        '1.4, the larger seed std)',
        '- APN, pretrained ViT - SVIP, pretrained ViT, calibrated H: +3.0 ± 1.4 (min +2.0, max '
        '+4.0) over seeds [0, 1]; per seed 0: +4.0, 1: +2.0; OUTSIDE the seed spread (|3.0| > '
        '1.4, the larger seed std)']
    assert all(line in text for line in lines)
    assert 'Paired per-seed differences against SVIP, pretrained ViT' in text
    # the per-run rows: honest, calibrated and test-tuned figures, both wall times
    assert ('| TransZero (transductive) | `configs/transzero/transzero_vit_synthetic.py` | 0 | '
            '70.0 | 57.0 | 67.0 | 62.0 | 0.50 | 70.0 | 78.0 | 74.0 | 77.0 | 80.0 | 100 | 50 |'
            ) in text


def test_methods_experiment_names_configs_that_exist_and_load():
    tool = _tool()
    settings = tool.SETTINGS['methods']
    entries = tool.EXPERIMENTS['methods']
    assert settings['calibrate'] and tool.CRITERIA['methods'] == []
    configs = {key: path for key, _, path in entries}
    assert configs == {
        'svip': 'configs/svip_vit_synthetic.py',
        'baseline': 'configs/baseline_vit_synthetic.py',
        'apn': 'configs/apn/apn_vit_synthetic.py',
        'transzero': 'configs/transzero/transzero_vit_synthetic.py',
        'transzero_inductive': 'configs/transzero/transzero_vit_synthetic_inductive.py',
        'svip_pt': 'configs/pretrained/svip_vit_synthetic_pretrained.py',
        'baseline_pt': 'configs/pretrained/baseline_vit_synthetic_pretrained.py',
        'apn_pt': 'configs/apn/apn_vit_synthetic_pretrained.py',
        'transzero_pt': 'configs/transzero/transzero_vit_synthetic_pretrained.py'}
    assert settings['transductive'] == {'transzero', 'transzero_pt'}
    pretrained = {k for k in configs if k.endswith('_pt')}
    assert {k for k, r in settings['reference'].items() if r == 'svip_pt'} == pretrained
    assert {k for k, r in settings['reference'].items() if r == 'svip'} == \
        set(configs) - pretrained
    for key, path in configs.items():
        cfg = Config.fromfile(str(REPO / path))
        # the calibrated gamma is set through GZSLMetric at test_evaluator.0, and every block
        # (honest, oracle, official) is reported
        assert cfg.test_evaluator[0]['type'] == 'GZSLMetric', path
        assert 'blocks' not in cfg.test_evaluator[0], path
        # the two regimes: from scratch, or from the pretrained source backbone
        init = cfg.model.backbone.get('init_cfg') or {}
        assert (init.get('type') == 'Pretrained') == (key in pretrained), path


def test_a_key_names_the_same_config_in_every_experiment():
    # runs are stored under --work-dir/<key>: two configs under one key would share folders
    tool = _tool()
    seen = {}
    for experiment, entries in tool.EXPERIMENTS.items():
        for key, _, path in entries:
            assert seen.setdefault(key, (experiment, path))[1] == path, (key, experiment)
    assert seen['svip'][1] == 'configs/svip_vit_synthetic.py'


def test_settings_name_the_data_file_and_what_it_lacks(tmp_path):
    tool = _tool()
    base = ("variants = [dict(key='a', label='A', config='a.py', regime='r1'),\n"
            "            dict(key='b', label='B', config='b.py', regime='r2')]\n"
            "criteria = []\n")
    (tmp_path / 'mine.py').write_text(base + "calibrate = True\n")
    with pytest.raises(ValueError, match=r'mine\.py: calibrate = True needs reference'):
        tool.load_settings(str(tmp_path))
    (tmp_path / 'mine.py').write_text(base + "calibrate = True\nreference = dict(r1='a')\n")
    with pytest.raises(ValueError, match=r"mine\.py: variant 'b' has regime 'r2', which "
                                         r"reference does not name"):
        tool.load_settings(str(tmp_path))
    (tmp_path / 'mine.py').write_text(base + "calibrate = True\nreference = dict(r1='b', "
                                      "r2='b')\n")
    with pytest.raises(ValueError, match=r"mine\.py: reference 'r1': 'b' is not a variant of "
                                         r"that regime; expected one of \['a'\]"):
        tool.load_settings(str(tmp_path))
    (tmp_path / 'mine.py').write_text(base + "reference = 'c'\n")
    with pytest.raises(ValueError, match=r"reference 'c' is not a variant key"):
        tool.load_settings(str(tmp_path))
    (tmp_path / 'mine.py').write_text(base + "reference = 'a'\n")
    assert tool.load_settings(str(tmp_path))['mine'] == dict(
        calibrate=False, reference={'a': 'a', 'b': 'a'}, regime={'a': 'r1', 'b': 'r2'},
        transductive=set())
