"""tools/test.py, tools/dist_test.sh and tools/calibrate.py end to end on a tiny synthetic set
with a tiny model trained for one epoch in the fixture; calibrate's pure functions on planted
scores."""
import copy
import json
import os
import pickle
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import svip_mm  # noqa: F401
from svip_mm.engine import prepare_data
from svip_mm.evaluation import (OFFICIAL_GAMMAS, calibrate_gamma, evaluate_zsl, gamma_option,
                                holdout_split)
from tiny_config import tiny_cfg as shared_tiny_cfg
from repo import REPO, load_tool

GAMMA = 0.05


def tool_env():
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return env


def tiny_cfg(base: Path) -> Config:
    """The default job shrunk (5 images per class, a 2-layer 32-d ViT, one epoch); its test
    pipeline loads the masks and its evaluator includes the patch-selection metric."""
    return shared_tiny_cfg(base / 'data', base / 'work', epochs=1)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp('tool')
    cfg = tiny_cfg(base)
    cfg.dump(str(base / 'tiny.py'))
    prepare_data(cfg)
    Runner.from_cfg(copy.deepcopy(cfg)).train()
    return base, base / 'tiny.py', base / 'work/epoch_1.pth'


@pytest.fixture(scope='module')
def single_run(trained):
    """tools/test.py as a user runs it: another cwd, no PYTHONPATH."""
    base, config, ckpt = trained
    out = base / 'single'
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/test.py'), str(config), str(ckpt), '--work-dir',
         str(out), '--out', str(out / 'metrics.json'), '--out', str(out / 'preds.pkl'),
         '--cfg-options', f'test_evaluator.0.gamma={GAMMA}'],
        cwd=str(base), env=tool_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout


def test_prints_one_table(single_run):
    out, stdout = single_run
    metrics = json.loads((out / 'metrics.json').read_text())['metrics']
    headers = [line for line in stdout.splitlines()
               if re.fullmatch(r'\s*block\s+gamma\s+T1\s+U\s+S\s+H\s*', line)]
    assert len(headers) == 1, stdout
    assert 'GZSL evaluation:' not in stdout and 'Patch selection on' not in stdout
    assert '30 test-seen + 50 test-unseen images' in stdout
    rows = {m.group(1): m for m in re.finditer(
        r'^\s+(honest|oracle|official)\s+([+-]\d+\.\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.*)$',
        stdout, re.M)}
    assert set(rows) == {'honest', 'oracle', 'official'}
    honest = rows['honest']
    assert float(honest.group(2)) == GAMMA
    assert [float(honest.group(i)) for i in (3, 4, 5, 6)] == pytest.approx(
        [round(metrics[k], 2) for k in ('zsl/top1', 'gzsl/U', 'gzsl/S', 'gzsl/H')])
    assert 'UPPER BOUND' in rows['oracle'].group(7)
    assert 'per-SAMPLE' in rows['official'].group(7)
    assert float(rows['oracle'].group(6)) == pytest.approx(round(metrics['oracle/H'], 2))
    sel = re.search(r'^\s+selector\s+(\S+)\s+(\S+)$', stdout, re.M)
    assert float(sel.group(1)) == pytest.approx(round(metrics['selection/selector_auroc'], 3))
    assert re.search(r'^\s+attention\s+\S+\s+\S+$', stdout, re.M)
    # the metrics' own tables stay in the log file
    log = next(out.glob('*/*.log')).read_text()
    assert 'GZSL evaluation:' in log and 'Patch selection on' in log


def test_out_files_agree_with_the_metrics(single_run):
    out, _ = single_run
    report = json.loads((out / 'metrics.json').read_text())
    assert (report['num_test_seen'], report['num_test_unseen']) == (30, 50)
    preds = pickle.loads((out / 'preds.pkl').read_bytes())
    assert len(preds) == 80
    assert {'img_path', 'gt_label', 'is_unseen', 'pred_score', 'keep_mask', 'selector_prob',
            'attention_unit_scores'} <= set(preds[0])
    keep_k = tiny_cfg(Path('unused')).model.neck.keep_k  # the default config's
    assert preds[0]['pred_score'].shape == (40, ) and preds[0]['keep_mask'].sum() == keep_k
    scores = np.stack([p['pred_score'] for p in preds])
    labels = np.array([p['gt_label'] for p in preds])
    unseen_flag = np.array([p['is_unseen'] for p in preds])
    unseen = np.unique(labels[unseen_flag])
    seen = np.setdiff1d(np.arange(40), unseen)
    again = evaluate_zsl(scores, labels, unseen_flag, seen, unseen, gamma=GAMMA)
    for key, value in again.items():
        assert report['metrics'][key] == pytest.approx(value, abs=1e-9), key


def test_two_ranks_give_the_same_results(trained, single_run):
    base, config, ckpt = trained
    out = base / 'dist'
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    env = dict(tool_env(), PYTHON=sys.executable, PORT=str(port))
    proc = subprocess.run(
        ['bash', str(REPO / 'tools/dist_test.sh'), str(config), str(ckpt), '2', '--work-dir',
         str(out), '--out', str(out / 'metrics.json'), '--out', str(out / 'preds.pkl'),
         '--cfg-options', f'test_evaluator.0.gamma={GAMMA}'],
        cwd=str(base), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count('honest') == 1  # only rank 0 prints the table
    single = single_run[0]
    assert (json.loads((out / 'metrics.json').read_text())['metrics'] ==
            json.loads((single / 'metrics.json').read_text())['metrics'])
    a = pickle.loads((out / 'preds.pkl').read_bytes())
    b = pickle.loads((single / 'preds.pkl').read_bytes())
    assert [p['img_path'] for p in a] == [p['img_path'] for p in b]
    np.testing.assert_allclose(np.stack([p['pred_score'] for p in a]),
                               np.stack([p['pred_score'] for p in b]), atol=1e-6)


def test_bad_arguments(trained, tmp_path):
    _, config, ckpt = trained
    tool = load_tool('test')
    with pytest.raises(SystemExit):
        tool.parse_args([str(config), str(ckpt), '--out', 'x.txt'])
    with pytest.raises(SystemExit):
        tool.parse_args([str(config), str(tmp_path / 'absent.pth')])
    args = tool.parse_args([str(config), str(ckpt), '--show-dir', str(tmp_path / 'vis')])
    hook = tool.visualization_hook_name()
    if hook is None:  # the visualisation issue has not landed: a clear refusal
        with pytest.raises(SystemExit, match='--show-dir needs the svip_mm visualisation hook'):
            tool.build_cfg(args)
    else:
        vis = tool.build_cfg(args).default_hooks['visualization']
        assert vis == dict(type=hook, enable=True, out_dir=str(tmp_path / 'vis'))


# ---------------------------------------------------------------------------- calibration
def test_calibrate_gamma_on_planted_scores():
    # classes: train {0, 1}, val {2, 3}, real unseen 4 (no part in calibration)
    rows = np.array([
        [0.8, 0.0, 0.195, 0.005],  # label 0: seen beats unseen by 0.605
        [0.005, 0.8, 0.0, 0.195],  # label 1: idem
        [0.5, 0.0, 0.295, 0.205],  # label 2: seen beats unseen by 0.205
        [0.0, 0.5, 0.205, 0.295],  # label 3: idem
    ])
    scores = np.concatenate([rows, np.zeros((4, 1))], axis=1)
    scores[0] = np.r_[rows[0] * 0.1, 0.9]  # mass on class 4: dropped, then renormalised
    res = calibrate_gamma(scores, [0, 1, 2, 3], [0, 1], [2, 3])
    # U = 100 once gamma > 0.205, S = 100 while gamma < 0.605: H = 100 on [0.21, 0.60]
    assert res['best_range'] == pytest.approx([0.21, 0.60])
    assert res['gamma'] == pytest.approx(0.40)  # middle of the run
    assert (res['U'], res['S'], res['H']) == (100.0, 100.0, 100.0)
    assert res['at_zero'] == dict(U=0.0, S=100.0, H=0.0)
    assert res['zsl_top1'] == 100.0 and len(res['sweep']['gamma']) == len(OFFICIAL_GAMMAS)
    with pytest.raises(ValueError, match='overlap'):
        calibrate_gamma(scores, [0, 1, 2, 3], [0, 1], [1, 2, 3])
    with pytest.raises(ValueError, match='neither train nor val'):
        calibrate_gamma(scores, [0, 1, 2, 4], [0, 1], [2, 3])


def test_gamma_option_names_the_gzsl_metric():
    assert gamma_option(dict(type='GZSLMetric')) == 'test_evaluator.gamma'
    assert gamma_option([dict(type='PatchSelectionMetric'),
                         dict(type='GZSLMetric')]) == 'test_evaluator.1.gamma'
    assert (gamma_option(dict(metrics=[dict(type='GZSLMetric')])) ==
            'test_evaluator.metrics.0.gamma')


def test_holdout_split_is_seeded_per_class():
    labels = [0] * 10 + [1] * 5 + [2]
    a = holdout_split(labels, [0, 1, 2], 0.2, seed=0)
    assert sorted(a['train'] + a['heldout']) == list(range(16))
    held = np.array(labels)[a['heldout']]
    assert (held == 0).sum() == 2 and (held == 1).sum() == 1 and (held == 2).sum() == 0
    assert a == holdout_split(labels, [0, 1, 2], 0.2, seed=0)
    assert a != holdout_split(labels, [0, 1, 2], 0.2, seed=1)
    # a class's choice does not depend on the other classes
    b = holdout_split(labels[:10], [0], 0.2, seed=0)
    assert b['heldout'] == [i for i in a['heldout'] if i < 10]
    with pytest.raises(ValueError, match='fraction'):
        holdout_split(labels, [0, 1, 2], 1.0)
    with pytest.raises(ValueError, match=r'classes \[2\]'):
        holdout_split(labels, [0, 1], 0.2)


def test_calibrate_prepare_train_gamma(trained):
    base, config, _ = trained
    cal = load_tool('calibrate')
    work = base / 'calib'
    cfg = cal.main(['prepare', str(config), '--work-dir', str(work), '--holdout', '0.25'])
    meta = cfg.calibration
    ds = cfg.train_dataloader.dataset
    assert ds.split == 'train' and not set(ds.indices) & set(meta.heldout_indices)
    assert sorted(ds.indices + meta.heldout_indices) == list(range(80))  # 20 classes x 4
    assert len(meta.heldout_indices) == 20  # one per train class
    assert cfg.model.head.seen_classes == meta.train_classes and len(meta.val_classes) == 10
    assert 'class_table' not in cfg.default_hooks
    assert all(h.type != 'ZSLClassTableHook' for h in cfg.get('custom_hooks') or [])
    assert cfg.test_dataloader is None and meta.gamma_option == 'test_evaluator.0.gamma'

    torch.set_num_threads(1)
    written = Config.fromfile(str(work / 'calibration_train.py'))
    Runner.from_cfg(written).train()
    seen_mask = torch.load(work / 'epoch_1.pth', weights_only=True)['state_dict']['head.seen_mask']
    assert seen_mask.nonzero().ravel().tolist() == meta.train_classes

    res = cal.main(['gamma', str(work / 'calibration_train.py'), str(work / 'epoch_1.pth'),
                    '--out', str(work / 'gamma.json'), '--gammas=-0.5:0.5:0.1'])
    assert (res['num_pseudo_unseen'], res['num_pseudo_seen']) == (40, 20)
    saved = json.loads((work / 'gamma.json').read_text())
    assert saved['gamma'] == res['gamma'] and saved['gamma'] in saved['sweep']['gamma']
    assert saved['sweep']['gamma'] == pytest.approx(np.arange(-5, 5) / 10)
    assert saved['cfg_option'] == f"test_evaluator.0.gamma={res['gamma']:g}"


# ---------------------------------------------------------------------------- documented gamma
def documented_gamma_options(capsys):
    """Every ``--cfg-options`` key for the calibration gamma that the docs, the tools'
    docstrings and help, and the tutorials give (on a command line)."""
    sources = [REPO / 'README.md', REPO / 'tools/test.py', REPO / 'tools/calibrate.py',
               *sorted((REPO / 'docs').glob('*.md')), *sorted((REPO / 'tutorials').glob('*.md')),
               *sorted((REPO / 'tutorials').glob('*.ipynb'))]
    found = []  # (key, where)
    for path in sources:
        for key in re.findall(r'--cfg-options\s+(test_evaluator[\w.]*\.gamma)=', path.read_text()):
            found.append((key, path.name))
    with pytest.raises(SystemExit):
        load_tool('test').parse_args(['--help'])
    help_text = ' '.join(capsys.readouterr().out.split())
    example = re.search(r'--cfg-options CFG_OPTIONS .*?e\.g\. (test_evaluator[\w.]*\.gamma)=',
                        help_text)
    assert example, help_text
    found.append((example.group(1), 'tools/test.py --help'))
    return found


def test_the_documented_gamma_option_works_on_a_list_evaluator(trained, capsys):
    base, config, ckpt = trained
    assert isinstance(Config.fromfile(str(config)).test_evaluator, list)  # as the default job's
    options = documented_gamma_options(capsys)
    assert {'calibration.md', 'calibrate.py', 'test.py', 'tools/test.py --help'} <= {
        where for _, where in options}
    gamma = 0.07  # not the fixture's GAMMA: this run's value must be the one in effect
    for i, key in enumerate(sorted({key for key, _ in options})):  # one run per form
        where = [w for k, w in options if k == key]
        out = base / f'documented_{i}'
        proc = subprocess.run(
            [sys.executable, str(REPO / 'tools/test.py'), str(config), str(ckpt), '--work-dir',
             str(out), '--out', str(out / 'metrics.json'), '--out', str(out / 'preds.pkl'),
             '--cfg-options', f'{key}={gamma}'],
            cwd=str(base), env=tool_env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (f'{key}= (from {where}): ' + proc.stdout[-2000:] +
                                      proc.stderr[-2000:])
        honest = re.search(r'^\s+honest\s+([+-]\d+\.\d+)\s', proc.stdout, re.M)
        assert float(honest.group(1)) == gamma, (key, where)
        metrics = json.loads((out / 'metrics.json').read_text())['metrics']
        preds = pickle.loads((out / 'preds.pkl').read_bytes())
        scores = np.stack([p['pred_score'] for p in preds])
        labels = np.array([p['gt_label'] for p in preds])
        unseen_flag = np.array([p['is_unseen'] for p in preds])
        unseen = np.unique(labels[unseen_flag])
        seen = np.setdiff1d(np.arange(scores.shape[1]), unseen)
        again = evaluate_zsl(scores, labels, unseen_flag, seen, unseen, gamma=gamma)
        for name in ('gzsl/U', 'gzsl/S', 'gzsl/H'):
            assert metrics[name] == pytest.approx(again[name], abs=1e-9), (key, name)
