"""svip_mm.experiments.runs: a finished run is reused and a different one never overwritten,
an interrupted one resumed, a retest or attention probe added to a finished one."""
import json

import pytest

from svip_mm.experiments import runs
from svip_mm.experiments.runs import (file_digest, pretraining_digests, probe_attention,
                                      read_test_metrics, run_one)
from svip_mm.experiments.spec import read_experiments

from repo import REPO


def test_attention_probe_tests_the_run_checkpoint_in_the_probe_config(tmp_path, monkeypatch):
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

    monkeypatch.setattr(runs.subprocess, 'call', fake_train)
    probe = read_experiments().attention_probe['baseline_pt']
    new = probe_attention(record, probe, str(work), 1)
    assert calls[0][1].endswith('tools/train.py') and calls[0][2].endswith(probe)
    assert f'model.backbone.init_cfg.checkpoint={work / "epoch_30.pth"}' in calls[0]
    assert 'randomness.seed=2' in calls[0]
    # only the attention AUROC is taken from the probe; the run's own metrics stay
    assert new['metrics'] == {'gzsl/H': 1.0, 'selection/attention_auroc': 0.9}
    assert new['attention_probe'] == probe
    assert json.loads((work / 'result.json').read_text()) == new
    assert probe_attention(new, probe, str(work), 1) is new and len(calls) == 1


def test_a_finished_run_is_reused_and_a_different_one_is_never_overwritten(tmp_path):
    cfg = 'configs/baseline_vit_synthetic.py'
    work = tmp_path / 'run'
    work.mkdir()
    stored = dict(config=cfg, config_digest=file_digest(str(REPO / cfg)), seed=0,
                  extra=[], wall_s=1.0, metrics={'gzsl/H': 1.0})
    (work / 'result.json').write_text(json.dumps(stored))
    assert run_one(cfg, 0, str(work), 1, []) == stored
    stored['config_digest'] = 'something else'
    (work / 'result.json').write_text(json.dumps(stored))
    with pytest.raises(RuntimeError, match='another config or options.*nothing is overwritten'):
        run_one(cfg, 0, str(work), 1, [])


def test_a_run_from_another_pretrained_backbone_is_not_reused(tmp_path, capsys):
    pre = tmp_path / 'pretrain.py'
    pre.write_text('epochs = 30\n')
    cfg = tmp_path / 'finetune.py'
    cfg.write_text(f"data_preparation = [dict(type='pretrained_backbone', config={str(pre)!r}, "
                   "seed=0, out='data/backbone.pth'), dict(type='synthetic_zsl')]\n")
    work = tmp_path / 'run'
    work.mkdir()
    digests = pretraining_digests(str(cfg))
    assert list(digests) == ['data/backbone.pth']
    stored = dict(config=str(cfg), config_digest=file_digest(str(cfg)), seed=0, extra=[],
                  wall_s=1.0, metrics={'gzsl/H': 1.0}, pretraining=digests)
    (work / 'result.json').write_text(json.dumps(stored))
    assert run_one(str(cfg), 0, str(work), 1, []) == stored
    # the pretraining config changes; the fine-tuning config's own digest does not see it
    pre.write_text('epochs = 60\n')
    assert file_digest(str(cfg)) == stored['config_digest']
    assert pretraining_digests(str(cfg)) != digests
    with pytest.raises(RuntimeError, match='another pretrained backbone.*nothing is overwritten'):
        run_one(str(cfg), 0, str(work), 1, [])
    with pytest.raises(RuntimeError, match='another pretrained backbone'):
        run_one(str(cfg), 0, str(work), 1, [], allow_retest=True)
    # a record from before the digest was recorded is reused, and the log says it is unchecked
    del stored['pretraining']
    (work / 'result.json').write_text(json.dumps(stored))
    capsys.readouterr()
    assert run_one(str(cfg), 0, str(work), 1, []) == stored
    assert 'cannot be detected' in capsys.readouterr().out


def test_pretraining_digests_resolve_step_paths_against_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the repository
    cfg = str(REPO / 'configs/pretrained/svip_vit_synthetic_pretrained.py')
    digests = pretraining_digests(cfg)
    assert list(digests) == ['data/pretrained/vit_synthetic_source_seed0.pth']
    # the seed is part of what the backbone is made from
    other = tmp_path / 'seed1.py'
    other.write_text(f"_base_ = [{cfg!r}]\n"
                     "data_preparation = [dict(type='pretrained_backbone', "
                     "config='configs/pretrain/vit_synthetic_source.py', seed=1, "
                     "out='data/pretrained/vit_synthetic_source_seed0.pth')]\n")
    assert pretraining_digests(str(other)) != digests
    # configs without the step record nothing
    assert pretraining_digests(str(REPO / 'configs/baseline_vit_synthetic.py')) == {}


def test_retest_evaluates_the_checkpoint_again_and_keeps_the_old_record(tmp_path, monkeypatch):
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

    monkeypatch.setattr(runs.subprocess, 'call', fake_test)
    new = run_one(cfg, 1, str(work), 1, [], allow_retest=True)
    assert calls[0][1].endswith('tools/test.py') and calls[0][3] == str(work / 'epoch_30.pth')
    assert new['metrics'] == {'gzsl/H': 2.0} and new['wall_s'] == 7.0
    assert new['retested_from'] == '0ld'
    assert 'calibrated' not in new  # it tested the old config
    assert new['config_digest'] == file_digest(str(REPO / cfg))
    assert json.loads((work / 'result.0ld.json').read_text()) == old
    assert json.loads((work / 'result.json').read_text()) == new


def test_a_run_that_failed_after_training_is_resumed_and_its_attempts_are_timed(
        tmp_path, monkeypatch):
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

    monkeypatch.setattr(runs.subprocess, 'call', fake_train)
    with pytest.raises(RuntimeError, match='failed with exit code 1.*again to resume'):
        run_one(cfg, 2, str(work), 1, [])
    assert not (work / 'result.json').exists() and '--resume' not in calls[0]
    record = run_one(cfg, 2, str(work), 1, [])
    assert calls[1][1].endswith('tools/train.py') and '--resume' in calls[1]
    assert record['metrics'] == {'gzsl/H': 3.0} and record['attempts'] == 2
    attempts = json.loads((work / 'attempts.json').read_text())
    assert [(a['exit_code'], a['resumed']) for a in attempts] == [(1, False), (0, True)]
    assert record['wall_s'] == pytest.approx(sum(a['wall_s'] for a in attempts))
    # the first attempt's output is kept
    assert (work / 'train.1.out').read_text() == 'attempt 1'
    assert (work / 'train.out').read_text() == 'attempt 2'


def test_test_metrics_come_from_the_last_line_of_the_newest_json_log(tmp_path):
    for stamp, h in [('20260101_000000', 1.0), ('20260102_000000', 2.0)]:
        (tmp_path / stamp).mkdir()
        lines = [{'loss': 3.0, 'epoch': 1}, {'gzsl/H': h, 'zsl/top1': 5.0}]
        (tmp_path / stamp / f'{stamp}.json').write_text('\n'.join(map(json.dumps, lines)))
    assert read_test_metrics(str(tmp_path))['gzsl/H'] == 2.0
    with pytest.raises(RuntimeError, match='no test metrics'):
        read_test_metrics(str(tmp_path / 'nothing'))
