"""Tests for svip_mm.evaluation: the pure ZSL/GZSL functions and GZSLMetric.

The hand-worked example (``_example``): 4 classes, seen {0, 1}, unseen {2, 3}; rows are softmax
probabilities, "margin" = best seen score - best unseen score (a sample goes to its best seen
class while margin > gamma). No margin lies on the official 0.01 grid, so no decision is a tie.

    sample  label  scores                          margin  best seen / unseen
    s1      0      0.700  0.100  0.100   0.100      0.600  0 (right) / 2
    s2      0      0.600  0.200  0.100   0.100      0.500  0 (right) / 2
    s3      0      0.4775 0.200  0.2225  0.100      0.255  0 (right) / 2
    s4      1      0.400  0.300  0.200   0.100      0.200  0 (wrong) / 2 (wrong): never right
    u1      2      0.100  0.100  0.615   0.185     -0.515  0 / 2 (right)
    u2      3      0.5125 0.100  0.100   0.2875     0.225  0 / 3 (right)
    u3      3      0.100  0.100  0.185   0.615     -0.515  0 / 3 (right)

gamma = 0: s1-s4 and u2 go to class 0; u1, u3 right.
    per-class  S = mean(class 0: 3/3, class 1: 0/1) = 50;   per-sample S = 3/4 = 75
    per-class  U = mean(class 2: 1/1, class 3: 1/2) = 75;   per-sample U = 2/3 = 66.67
    H = 2 * 75 * 50 / 125 = 60;  ZSL top-1 (unseen classes only): u1, u2, u3 right = 100
Sweeping gamma: u2 turns right above 0.225, s3 turns wrong above 0.255, s2 above 0.5.
    per-class:  (-0.515, 0.225) U 75  S 50  H 60;  (0.225, 0.255) U 100 S 50 H 66.67;
                (0.255, 0.5) U 100 S 33.3 H 50  -> oracle gamma 0.23 (the first grid point of
                the best interval (0.225, 0.255); ties go to the first), U 100, S 50, H 66.67
    per-sample: (-0.515, 0.225) U 66.67 S 75 H 70.59; (0.225, 0.255) U 100 S 75 H 85.71;
                (0.255, 0.5) U 100 S 50 H 66.67  -> official gamma 0.23, U 100, S 75, H 85.71
"""
import json
import os.path as osp
import socket

import numpy as np
import pytest
import torch

from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

from svip_mm.evaluation import (OFFICIAL_GAMMAS, GZSLMetric, best_gamma, calibrated_predict,
                                check_class_split, evaluate_zsl, gzsl_accuracy, gzsl_sweep,
                                harmonic_mean, per_class_accuracy, per_sample_accuracy,
                                zsl_top1)

SEEN, UNSEEN = [0, 1], [2, 3]
META = dict(classes=('a', 'b', 'c', 'd'), seen_classes=SEEN, unseen_classes=UNSEEN)


def _example():
    scores = np.array([
        [0.700, 0.100, 0.100, 0.100],
        [0.600, 0.200, 0.100, 0.100],
        [0.4775, 0.200, 0.2225, 0.100],
        [0.400, 0.300, 0.200, 0.100],
        [0.100, 0.100, 0.615, 0.185],
        [0.5125, 0.100, 0.100, 0.2875],
        [0.100, 0.100, 0.185, 0.615],
    ], dtype=np.float32)
    labels = np.array([0, 0, 0, 1, 2, 3, 3])
    is_unseen = np.array([False] * 4 + [True] * 3)
    return scores, labels, is_unseen


def _samples(scores, labels, is_unseen):
    """mmpretrain DataSamples as a model's predict() would return them."""
    out = []
    for s, y, u in zip(scores, labels, is_unseen):
        ds = DataSample().set_gt_label(int(y)).set_pred_score(torch.from_numpy(np.array(s)))
        ds.set_field(torch.tensor(bool(u)), 'is_unseen')
        out.append(ds)
    return out


def _metric(**kwargs):
    metric = GZSLMetric(**kwargs)
    metric.dataset_meta = META
    return metric


def _run_metric(metric, scores, labels, is_unseen, batch=3):
    samples = [s.to_dict() for s in _samples(scores, labels, is_unseen)]
    for i in range(0, len(samples), batch):
        metric.process(None, samples[i:i + batch])
    return metric.evaluate(len(samples))


# --------------------------------------------------------------------------- pure functions
def test_per_class_and_per_sample_accuracy_differ():
    pred = np.array([0, 0, 0, 0])
    labels = np.array([0, 0, 0, 1])
    assert per_class_accuracy(pred, labels) == pytest.approx(50.0)  # mean(3/3, 0/1)
    assert per_sample_accuracy(pred, labels) == pytest.approx(75.0)  # 3/4


def test_harmonic_mean():
    assert harmonic_mean(50.0, 100.0) == pytest.approx(200.0 / 3)
    assert harmonic_mean(75.0, 50.0) == pytest.approx(60.0)
    assert harmonic_mean(0.0, 80.0) == 0.0
    assert harmonic_mean(0.0, 0.0) == 0.0  # no division by zero
    np.testing.assert_allclose(harmonic_mean([0.0, 40.0], [0.0, 40.0]), [0.0, 40.0])


def test_honest_block_on_hand_example():
    scores, labels, is_unseen = _example()
    out = evaluate_zsl(scores, labels, is_unseen, SEEN, UNSEEN, blocks=('honest', ))
    assert set(out) == {'zsl/top1', 'gzsl/U', 'gzsl/S', 'gzsl/H'}
    assert out['zsl/top1'] == pytest.approx(100.0)
    assert out['gzsl/U'] == pytest.approx(75.0)
    assert out['gzsl/S'] == pytest.approx(50.0)
    assert out['gzsl/H'] == pytest.approx(60.0)
    # the same samples scored per sample give different numbers
    ps = gzsl_accuracy(scores, labels, is_unseen, SEEN, UNSEEN, gamma=0.0, per_class=False)
    assert ps['U'] == pytest.approx(200.0 / 3)
    assert ps['S'] == pytest.approx(75.0)


def test_zsl_top1_per_class():
    scores, labels, is_unseen = _example()
    # u2 would go to seen class 0 over all classes, but is right among the unseen ones
    assert zsl_top1(scores[is_unseen], labels[is_unseen], UNSEEN) == pytest.approx(100.0)
    wrong = scores[is_unseen].copy()
    wrong[1] = [0.1, 0.1, 0.5, 0.3]  # u2 (class 3) now picks class 2
    assert zsl_top1(wrong, labels[is_unseen], UNSEEN) == pytest.approx(75.0)  # mean(1, 1/2)
    assert zsl_top1(wrong, labels[is_unseen], UNSEEN,
                    per_class=False) == pytest.approx(200.0 / 3)


def test_gamma_shifts_decision_the_expected_way():
    scores, labels, is_unseen = _example()
    u2 = scores[5:6]  # margin 0.225 between seen class 0 and unseen class 3
    assert calibrated_predict(u2, SEEN, gamma=0.0)[0] == 0
    assert calibrated_predict(u2, SEEN, gamma=0.22)[0] == 0
    assert calibrated_predict(u2, SEEN, gamma=0.24)[0] == 3  # larger gamma: towards unseen
    u1 = scores[4:5]  # margin -0.515
    assert calibrated_predict(u1, SEEN, gamma=-0.50)[0] == 2
    assert calibrated_predict(u1, SEEN, gamma=-0.53)[0] == 0  # negative gamma: towards seen
    # the metric-level numbers move the same way: U up past 0.225, S down past 0.255
    at = {g: gzsl_accuracy(scores, labels, is_unseen, SEEN, UNSEEN, gamma=g)
          for g in (0.0, 0.24, 0.3)}
    assert at[0.0]['U'] == pytest.approx(75.0) and at[0.0]['S'] == pytest.approx(50.0)
    assert at[0.24]['U'] == pytest.approx(100.0) and at[0.24]['S'] == pytest.approx(50.0)
    assert at[0.24]['H'] == pytest.approx(200.0 / 3)
    assert at[0.3]['U'] == pytest.approx(100.0) and at[0.3]['S'] == pytest.approx(100.0 / 3)


def test_sweep_matches_argmax_definition_on_random_data():
    rng = np.random.default_rng(0)
    n, c = 300, 12
    seen = np.sort(rng.permutation(c)[:8])
    unseen = np.setdiff1d(np.arange(c), seen)
    labels = np.where(rng.random(n) < 0.5, rng.choice(seen, n), rng.choice(unseen, n))
    is_unseen = np.isin(labels, unseen)
    logits = rng.normal(size=(n, c)) * 2
    logits[np.arange(n), labels] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    gammas = np.linspace(-0.6, 0.6, 41)
    for per_class, acc in ((True, per_class_accuracy), (False, per_sample_accuracy)):
        sweep = gzsl_sweep(probs, labels, is_unseen, seen, unseen, gammas, per_class=per_class)
        for i, g in enumerate(gammas):
            pred = calibrated_predict(probs, seen, g)
            assert sweep['U'][i] == pytest.approx(acc(pred[is_unseen], labels[is_unseen]))
            assert sweep['S'][i] == pytest.approx(acc(pred[~is_unseen], labels[~is_unseen]))
        np.testing.assert_allclose(sweep['H'], harmonic_mean(sweep['U'], sweep['S']))


@pytest.mark.parametrize('planted', [0.30, -0.42])
def test_oracle_finds_planted_gamma(planted):
    """Unseen samples have margins in (planted - 0.01, planted - 0.005), seen samples in
    (planted + 0.005, planted + 0.3): only gamma = planted gets every sample right."""
    rng = np.random.default_rng(1)
    seen, unseen = np.arange(0, 6), np.arange(6, 10)
    n_seen, n_unseen = 40, 30
    labels = np.r_[rng.choice(seen, n_seen), rng.choice(unseen, n_unseen)]
    is_unseen = np.r_[np.zeros(n_seen, bool), np.ones(n_unseen, bool)]
    margins = np.r_[planted + rng.uniform(0.005, 0.3, n_seen),
                    planted + rng.uniform(-0.0099, -0.0051, n_unseen)]
    margins[0] = planted + 0.006  # so that planted + 0.01 misclassifies one seen sample
    scores = rng.uniform(0.0, 0.2, (labels.size, 10))
    for i, (y, m) in enumerate(zip(labels, margins)):
        own, other = (unseen, seen) if is_unseen[i] else (seen, unseen)
        top = 1.5
        scores[i, y] = top  # right class best in its own group
        rival = rng.choice(other)
        # best of the other group: margin (seen - unseen) as planted
        scores[i, rival] = top - m if not is_unseen[i] else top + m
    out = evaluate_zsl(scores, labels, is_unseen, seen, unseen, blocks=('oracle', ))
    assert out['oracle/gamma'] == pytest.approx(planted)
    assert out['oracle/U'] == pytest.approx(100.0)
    assert out['oracle/S'] == pytest.approx(100.0)
    assert out['oracle/H'] == pytest.approx(100.0)
    # the honest block at gamma = 0 does not see it
    assert out['gzsl/H'] < 100.0
    # a custom oracle grid that misses the planted value cannot reach H = 100
    coarse = evaluate_zsl(scores, labels, is_unseen, seen, unseen, blocks=('oracle', ),
                          oracle_gammas=[planted - 0.1, planted + 0.1])
    assert coarse['oracle/H'] < 100.0


def test_oracle_and_official_on_hand_example():
    scores, labels, is_unseen = _example()
    out = evaluate_zsl(scores, labels, is_unseen, SEEN, UNSEEN)
    assert out['oracle/gamma'] == pytest.approx(0.23)
    assert out['oracle/U'] == pytest.approx(100.0)
    assert out['oracle/S'] == pytest.approx(50.0)
    assert out['oracle/H'] == pytest.approx(200.0 / 3)
    assert out['official/gamma'] == pytest.approx(0.23)
    assert out['official/U'] == pytest.approx(100.0)
    assert out['official/S'] == pytest.approx(75.0)
    assert out['official/H'] == pytest.approx(600.0 / 7)  # 2*100*75/175 = 85.71
    # the honest block ignores the test-tuned gammas
    assert out['gzsl/H'] == pytest.approx(60.0)


def test_official_grid_and_tie_break():
    assert OFFICIAL_GAMMAS.size == 200
    assert OFFICIAL_GAMMAS[0] == -1.0 and OFFICIAL_GAMMAS[-1] == pytest.approx(0.99)
    assert 1.0 not in OFFICIAL_GAMMAS
    sweep = dict(gamma=np.array([-0.1, 0.0, 0.1]), U=np.array([10., 20., 20.]),
                 S=np.array([30., 20., 20.]), H=np.array([15., 20., 20.]))
    assert best_gamma(sweep)['gamma'] == 0.0  # first of equal H, as the official code does


# --------------------------------------------------------------------------- bad input
def test_bad_class_split():
    with pytest.raises(ValueError, match=r'overlap.*\[1\]'):
        check_class_split([0, 1], [1, 2, 3])
    with pytest.raises(ValueError, match=r'neither list: \[3\]'):
        check_class_split([0, 1], [2], num_classes=4)
    with pytest.raises(ValueError, match=r'more than once: \[2\]'):
        check_class_split([0, 1], [2, 2])
    with pytest.raises(ValueError, match=r'outside the valid range 0\.\.3'):
        check_class_split([0, 1], [2, 7])
    with pytest.raises(ValueError, match='unseen_classes is empty'):
        check_class_split([0, 1], [])


def test_bad_inputs_pure():
    scores, labels, is_unseen = _example()
    with pytest.raises(ValueError, match='no test-unseen samples'):
        evaluate_zsl(scores[:4], labels[:4], is_unseen[:4], SEEN, UNSEEN)
    with pytest.raises(ValueError, match='no test-seen samples'):
        evaluate_zsl(scores[4:], labels[4:], is_unseen[4:], SEEN, UNSEEN)
    with pytest.raises(ValueError, match=r'scores have 5 classes.*expected 4'):
        evaluate_zsl(np.c_[scores, np.zeros(7)], labels, is_unseen, SEEN, UNSEEN)
    bad = labels.copy()
    bad[2] = 7
    with pytest.raises(ValueError, match=r'labels out of range: \[7\].*0\.\.3'):
        evaluate_zsl(scores, bad, is_unseen, SEEN, UNSEEN)
    bad[2] = -1
    with pytest.raises(ValueError, match=r'labels out of range: \[-1\]'):
        evaluate_zsl(scores, bad, is_unseen, SEEN, UNSEEN)
    flags = is_unseen.copy()
    flags[0] = True  # a class-0 (seen) sample flagged as test-unseen
    with pytest.raises(ValueError, match=r'is_unseen disagrees.*samples \[0\]'):
        evaluate_zsl(scores, labels, flags, SEEN, UNSEEN)
    with pytest.raises(ValueError, match='unknown report blocks'):
        evaluate_zsl(scores, labels, is_unseen, SEEN, UNSEEN, blocks=('honest', 'best'))
    with pytest.raises(ValueError, match='overlap'):
        evaluate_zsl(scores, labels, is_unseen, [0, 1, 2], [2, 3])


def test_bad_inputs_metric():
    scores, labels, is_unseen = _example()
    with pytest.raises(ValueError, match='no test-unseen samples'):
        _run_metric(_metric(), scores[:4], labels[:4], is_unseen[:4])
    with pytest.raises(ValueError, match='no test-seen samples'):
        _run_metric(_metric(), scores[4:], labels[4:], is_unseen[4:])
    with pytest.raises(ValueError, match=r"'pred_score' has shape \(5,\), expected \[4\]"):
        _run_metric(_metric(), np.c_[scores, np.zeros(7)], labels, is_unseen)
    bad = labels.copy()
    bad[3] = 4
    with pytest.raises(ValueError, match=r"'gt_label' 4 is out of range.*0\.\.3"):
        _run_metric(_metric(), scores, bad, is_unseen)
    # the dataset's class count disagrees with the split
    metric = GZSLMetric()
    metric.dataset_meta = dict(META, classes=('a', 'b', 'c', 'd', 'e'))
    with pytest.raises(ValueError, match=r'has 5 classes.*neither list: \[4\]'):
        _run_metric(metric, scores, labels, is_unseen)
    metric = GZSLMetric()
    metric.dataset_meta = dict(META, unseen_classes=[1, 2, 3])
    with pytest.raises(ValueError, match=r'overlap.*\[1\]'):
        _run_metric(metric, scores, labels, is_unseen)
    metric = GZSLMetric()
    metric.dataset_meta = dict(classes=META['classes'])
    with pytest.raises(ValueError, match='no seen/unseen class split'):
        _run_metric(metric, scores, labels, is_unseen)
    with pytest.raises(KeyError, match="no 'is_unseen' field"):
        _metric().process(None, [dict(pred_score=torch.ones(4) / 4, gt_label=torch.tensor([0]))])
    with pytest.raises(ValueError, match='unknown blocks'):
        GZSLMetric(blocks=('honest', 'upper'))
    with pytest.raises(ValueError, match='give both seen_classes and unseen_classes'):
        GZSLMetric(seen_classes=[0, 1])


# --------------------------------------------------------------------------- the metric
def test_metric_through_mmengine_evaluator():
    scores, labels, is_unseen = _example()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        evaluator = Evaluator(dict(type='GZSLMetric', gamma=0.24))
    assert METRICS.get('GZSLMetric') is GZSLMetric
    assert isinstance(evaluator.metrics[0], GZSLMetric)
    evaluator.dataset_meta = META
    samples = _samples(scores, labels, is_unseen)
    evaluator.process(data_samples=samples[:4])
    evaluator.process(data_samples=samples[4:])
    out = evaluator.evaluate(len(samples))
    assert set(out) == {
        'zsl/top1', 'gzsl/U', 'gzsl/S', 'gzsl/H', 'oracle/U', 'oracle/S', 'oracle/H',
        'oracle/gamma', 'official/U', 'official/S', 'official/H', 'official/gamma'
    }
    assert out['zsl/top1'] == pytest.approx(100.0)
    # gamma=0.24 from the config is the honest calibration
    assert out['gzsl/U'] == pytest.approx(100.0)
    assert out['gzsl/S'] == pytest.approx(50.0)
    assert out['gzsl/H'] == pytest.approx(200.0 / 3)
    assert out['official/H'] == pytest.approx(600.0 / 7)
    assert all(isinstance(v, float) for v in out.values())


def test_metric_args_override_meta_and_custom_keys():
    scores, labels, is_unseen = _example()
    # the metric's own split wins over a (wrong) dataset_meta split
    metric = GZSLMetric(seen_classes=SEEN, unseen_classes=UNSEEN, blocks='honest',
                        score_key='probs', unseen_key='from_unseen', prefix='val')
    metric.dataset_meta = dict(seen_classes=[0], unseen_classes=[1, 2, 3])
    samples = [
        dict(probs=torch.from_numpy(s), gt_label=torch.tensor([int(y)]),
             from_unseen=bool(u)) for s, y, u in zip(scores, labels, is_unseen)
    ]
    metric.process(None, samples)
    out = metric.evaluate(len(samples))
    assert set(out) == {'val/zsl/top1', 'val/gzsl/U', 'val/gzsl/S', 'val/gzsl/H'}
    assert out['val/gzsl/H'] == pytest.approx(60.0)


def test_metric_records_are_small_numpy():
    scores, labels, is_unseen = _example()
    metric = _metric()
    # DataSample objects are accepted as well as the dicts the Evaluator passes
    metric.process(None, _samples(scores, labels, is_unseen))
    rec = metric.results[4]
    assert set(rec) == {'score', 'label', 'is_unseen'}
    assert isinstance(rec['score'], np.ndarray) and rec['score'].shape == (4, )
    assert rec['score'].dtype == np.float32
    assert rec['label'] == 2 and isinstance(rec['label'], int)
    assert rec['is_unseen'] is True
    assert metric.evaluate(len(labels))['gzsl/H'] == pytest.approx(60.0)


# --------------------------------------------------------------------------- 2 ranks
def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_worker(rank, world_size, port, workdir):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    try:
        scores, labels, is_unseen = _example()
        n = len(labels)
        # what DistributedSampler(shuffle=False) gives: interleaved, padded to equal length
        per_rank = -(-n // world_size)
        idx = list(range(n)) + list(range(per_rank * world_size - n))
        mine = idx[rank::world_size]
        metric = GZSLMetric(collect_dir=osp.join(workdir, 'collect'))
        metric.dataset_meta = META
        samples = [s.to_dict() for s in _samples(scores[mine], labels[mine], is_unseen[mine])]
        metric.process(None, samples[:2])
        metric.process(None, samples[2:])
        out = metric.evaluate(n)
        with open(osp.join(workdir, f'rank{rank}.json'), 'w') as f:
            json.dump(out, f)
    finally:
        dist.destroy_process_group()


def test_two_ranks_match_one_process(tmp_path):
    scores, labels, is_unseen = _example()
    single = _run_metric(_metric(), scores, labels, is_unseen)
    # fork (where available) reuses this process's imports: ~1 s instead of ~10 s with spawn
    method = 'fork' if 'fork' in torch.multiprocessing.get_all_start_methods() else 'spawn'
    torch.multiprocessing.start_processes(
        _dist_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True,
        start_method=method)
    for rank in range(2):  # rank 0 computes, MMEngine broadcasts to every rank
        with open(tmp_path / f'rank{rank}.json') as f:
            assert json.load(f) == single
