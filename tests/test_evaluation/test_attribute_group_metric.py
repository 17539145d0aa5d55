"""AttributeGroupMetric on a hand-built 4-class, 6-attribute table with hand-counted
expected accuracies; the tie rule; samples as dicts and as DataSamples; an MMEngine
Evaluator; bad input and missing metainfo."""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

from svip_mm.evaluation import AttributeGroupMetric
from svip_mm.evaluation import attribute_group_metric as agm_module

# attributes a0..a5; groups deliberately not contiguous:
#   colour = {a0, a3}, shape = {a1, a2, a4}, size = {a5} (single attribute: skipped)
GROUPS = [['colour', [0, 3]], ['shape', [1, 2, 4]], ['size', [5]]]
CLASS_ATT = np.array([
    # a0   a1   a2   a3   a4   a5
    [0.9, 0.2, 0.7, 0.1, 0.1, 0.5],  # class 0 (seen): colour a0, shape a2
    [0.2, 0.6, 0.3, 0.8, 0.1, 0.5],  # class 1 (seen): colour a3, shape a1
    [0.5, 0.1, 0.1, 0.5, 0.8, 0.0],  # class 2 (unseen): colour TIED a0/a3, shape a4
    [1.0, 0.0, 0.0, 0.0, 0.0, 1.0],  # class 3 (unseen): colour a0, shape all zero (all tied)
], dtype=np.float32)
NAMES = ['black', 'small', 'round', 'white', 'long', 'big']
META = dict(classes=('c0', 'c1', 'c2', 'c3'), class_attributes=CLASS_ATT,
            attribute_groups=GROUPS, attribute_names=NAMES)

# (pred_attributes, label, is_unseen); the comments give the group argmax and the verdict
SAMPLES = [
    # seen
    ([0.8, 0.1, 0.9, 0.3, 0.0, 0.2], 0, False),  # colour a0 ok,     shape a2 ok
    ([0.1, 0.7, 0.2, 0.6, 0.1, 0.9], 0, False),  # colour a3 wrong,  shape a1 wrong
    ([0.2, 0.3, 0.1, 0.9, 0.5, 0.0], 1, False),  # colour a3 ok,     shape a4 wrong
    ([0.3, 0.8, 0.3, 0.4, 0.2, 0.1], 1, False),  # colour a3 ok,     shape a1 ok
    # unseen
    ([0.9, 0.1, 0.2, 0.0, 0.7, 0.3], 2, True),  # colour a0 ok (tie), shape a4 ok
    ([0.1, 0.2, 0.6, 0.4, 0.5, 0.0], 2, True),  # colour a3 ok (tie), shape a2 wrong
    ([0.4, 0.2, 0.1, 0.3, 0.5, 0.9], 3, True),  # colour a0 ok, shape a4 ok (all-zero tie)
]
# seen: colour 3/4, shape 2/4; unseen: colour 3/3, shape 2/3
EXPECTED = {
    'attributes/colour_seen': 75.0,
    'attributes/shape_seen': 50.0,
    'attributes/mean_seen': 62.5,
    'attributes/colour_unseen': 100.0,
    'attributes/shape_unseen': 200.0 / 3,
    'attributes/mean_unseen': (100.0 + 200.0 / 3) / 2,
}


def _dicts(samples=SAMPLES):
    """What MMEngine's Evaluator passes to process(): plain dicts."""
    return [dict(pred_attributes=torch.tensor(p), gt_label=torch.tensor([y]),
                 is_unseen=u) for p, y, u in samples]


def _data_samples(samples=SAMPLES):
    """mmpretrain DataSamples as the model's predict() returns them."""
    out = []
    for p, y, u in samples:
        ds = DataSample().set_gt_label(int(y))
        ds.set_field(torch.tensor(p), 'pred_attributes')
        ds.set_field(torch.tensor(bool(u)), 'is_unseen')
        out.append(ds)
    return out


def _metric(meta=META, **kwargs):
    metric = AttributeGroupMetric(**kwargs)
    metric.dataset_meta = meta
    return metric


def _run(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


class _Log:
    """Stands in for MMLogger.get_current_instance() to capture what is logged."""

    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(msg)

    warning = info


@pytest.fixture
def log(monkeypatch):
    fake = _Log()
    monkeypatch.setattr(agm_module.MMLogger, 'get_current_instance', lambda: fake)
    return fake


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize('make', [_dicts, _data_samples])
def test_hand_counted_accuracies(make, log):
    out = _run(_metric(), make())
    assert set(out) == set(EXPECTED)  # no 'size' keys: single-attribute group skipped
    for key, value in EXPECTED.items():
        assert out[key] == pytest.approx(value), key
    assert all(isinstance(v, float) for v in out.values())
    text = '\n'.join(log.lines)
    assert 'skipped 1 single-attribute group' in text and 'size' in text
    # chance column: 100/2 for colour, 100/3 for shape
    assert '50.00' in text and '33.33' in text


def test_tie_rule_any_tied_maximum_counts():
    # class 2's colour is tied (a0 = a3): both predictions are correct
    for pred in ([0.9, 0, 0, 0.1, 0, 0], [0.1, 0, 0, 0.9, 0, 0]):
        out = _run(_metric(), _dicts([(pred, 2, True)]))
        assert out['attributes/colour_unseen'] == 100.0
    # class 3's shape is all zero: every prediction is correct
    for hot in (1, 2, 4):
        pred = [0.0] * 6
        pred[hot] = 1.0
        out = _run(_metric(), _dicts([(pred, 3, True)]))
        assert out['attributes/shape_unseen'] == 100.0
    # no tie in class 0's shape (a2 is the only max): a1 is wrong, a2 right
    out = _run(_metric(), _dicts([([0, 1, 0, 0, 0, 0], 0, False),
                                  ([0, 0, 1, 0, 0, 0], 0, False)]))
    assert out['attributes/shape_seen'] == 50.0
    # a tie in the PREDICTION goes to the first index of the group (numpy argmax):
    # colour a0 = a3 predicted for class 1 (true a3) -> a0 chosen -> wrong
    out = _run(_metric(), _dicts([([0.5, 0, 0, 0.5, 0, 0], 1, False)]))
    assert out['attributes/colour_seen'] == 0.0


def test_only_seen_samples_leaves_out_unseen_keys(log):
    out = _run(_metric(), _dicts(SAMPLES[:4]))
    assert set(out) == {'attributes/colour_seen', 'attributes/shape_seen',
                        'attributes/mean_seen'}
    assert out['attributes/mean_seen'] == pytest.approx(62.5)
    assert any('no test-unseen samples' in line for line in log.lines)


def test_constructor_args_override_meta_and_prefix():
    # the meta carries a wrong table (class 0 and 1 swapped) and no groups at all;
    # the arguments (the right ones) take precedence
    wrong = dict(class_attributes=CLASS_ATT[[1, 0, 2, 3]])
    metric = _metric(wrong, class_attributes=CLASS_ATT.tolist(),
                     attribute_groups={'colour': [0, 3], 'shape': [1, 2, 4], 'size': [5]},
                     prefix='val')
    out = _run(metric, _dicts())
    assert set(out) == {f'val/{k}' for k in EXPECTED}
    for key, value in EXPECTED.items():
        assert out[f'val/{key}'] == pytest.approx(value)


def test_through_mmengine_evaluator():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        evaluator = Evaluator(dict(type='AttributeGroupMetric'))
    assert METRICS.get('AttributeGroupMetric') is AttributeGroupMetric
    assert isinstance(evaluator.metrics[0], AttributeGroupMetric)
    evaluator.dataset_meta = META
    samples = _data_samples()
    evaluator.process(data_samples=samples[:3])
    evaluator.process(data_samples=samples[3:])
    out = evaluator.evaluate(len(samples))
    assert set(out) == set(EXPECTED)
    for key, value in EXPECTED.items():
        assert out[key] == pytest.approx(value), key


# --------------------------------------------------------------------------- bad input
def test_wrong_number_of_attributes():
    with pytest.raises(ValueError, match=r"'pred_attributes'.*expected \[6\].*K=6.*has 6"):
        _metric().process(None, _dicts([([0.1] * 5, 0, False)]))


def test_missing_meta_keys():
    meta = dict(META)
    del meta['class_attributes']
    with pytest.raises(ValueError, match=r"no 'class_attributes'.*ZSLXlsa17Dataset.*"
                                         r'ZSLSynthetic'):
        _metric(meta).process(None, _dicts())
    meta = dict(META)
    del meta['attribute_groups']
    with pytest.raises(ValueError, match=r"no 'attribute_groups'.*ZSLXlsa17Dataset.*"
                                         r'ZSLSynthetic'):
        _metric(meta).process(None, _dicts())
    # attribute_names is optional
    meta = dict(META)
    del meta['attribute_names']
    assert _run(_metric(meta), _dicts())['attributes/mean_seen'] == pytest.approx(62.5)


def test_other_bad_input():
    with pytest.raises(ValueError, match=r"'gt_label' 4 is out of range.*0\.\.3"):
        _metric().process(None, _dicts([([0.1] * 6, 4, False)]))
    with pytest.raises(KeyError, match="no 'is_unseen' field"):
        _metric().process(None, [dict(pred_attributes=torch.zeros(6), gt_label=0)])
    with pytest.raises(KeyError, match="no 'pred_attributes' field"):
        _metric().process(None, [dict(gt_label=0, is_unseen=False)])
    with pytest.raises(ValueError, match=r"group 'shape'.*\[7\] out of range"):
        _metric(dict(META, attribute_groups=[['colour', [0, 3]], ['shape', [1, 7]]])
                ).process(None, _dicts())
    with pytest.raises(ValueError, match='all 2 attribute groups have a single attribute'):
        _metric(dict(META, attribute_groups=[['a', [0]], ['b', [1]]])).process(None, _dicts())
    with pytest.raises(ValueError, match=r"class_attributes.*shape \(6,\)"):
        AttributeGroupMetric(class_attributes=np.zeros(6))
    with pytest.raises(ValueError, match='no samples'):
        _metric().compute_metrics([])
