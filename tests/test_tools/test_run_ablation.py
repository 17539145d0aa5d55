"""tools/run_ablation.py: its experiments name real configs; statistics, report and reuse."""
import json

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
               metrics={'gzsl/H': 1.0})
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
