"""PatchSelectionMetric and its pure functions on hand-worked masks; LoadForegroundMask on a
real generated synthetic mask; bad input."""
import itertools

import numpy as np
import pytest
import torch
from PIL import Image

import svip_mm  # noqa: F401
from svip_mm.datasets.transforms import LoadForegroundMask
from svip_mm.evaluation import (PatchSelectionMetric, binary_auroc, kept_precision,
                                patch_selection_scores, per_image_auroc, topk_keep,
                                unit_foreground_fraction)
from svip_mm.models.utils import patch_scores_to_unit_scores


def pairwise_auroc(scores, positives):
    """Independent O(n^2) AUROC: P(score_pos > score_neg) + 1/2 P(equal)."""
    pos = [s for s, p in zip(scores, positives) if p]
    neg = [s for s, p in zip(scores, positives) if not p]
    wins = sum((a > b) + 0.5 * (a == b) for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


# ------------------------------------------------------------------ unit fractions
def test_unit_foreground_fraction_blocks_and_uneven_grid():
    m = np.zeros((8, 8), bool)
    m[:4, :4] = True  # unit 0 full
    m[4, 4] = True  # 1 of 16 pixels of unit 3
    np.testing.assert_allclose(unit_foreground_fraction(m, 4), [1, 0, 0, 1 / 16])
    # 'L' image (0/255) and soft masks give the same
    np.testing.assert_allclose(unit_foreground_fraction(m.astype(np.uint8) * 255, 4),
                               [1, 0, 0, 1 / 16])
    np.testing.assert_allclose(unit_foreground_fraction(torch.from_numpy(m * 0.5), 4),
                               [0.5, 0, 0, 1 / 32])
    # 5 rows on a 2-row grid: rows 0..2 -> unit row 0 (floor(r*2/5)), rows 3..4 -> unit row 1
    m = np.zeros((5, 2))
    m[2, 0] = 1
    m[3, 1] = 1
    np.testing.assert_allclose(unit_foreground_fraction(m, 4), [1 / 3, 0, 0, 1 / 2])


@pytest.mark.parametrize('mask, units, match', [
    (np.zeros((8, 8)), 5, 'square grid'),
    (np.zeros((2, 8, 8)), 4, r'\[H, W\]'),
    (np.zeros((3, 8)), 16, 'smaller than the 4x4'),
    (np.full((8, 8), 2.0), 4, r'\[0, 1\]'),
])
def test_unit_foreground_fraction_bad_input(mask, units, match):
    with pytest.raises(ValueError, match=match):
        unit_foreground_fraction(mask, units)


# ------------------------------------------------------------------ AUROC
def test_auroc_known_values_and_ties():
    assert binary_auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert binary_auroc([0.2, 0.9], [0, 1]) == 1.0
    assert binary_auroc([0.9, 0.2], [0, 1]) == 0.0
    # a collapsed scorer (one value everywhere) is exactly chance
    assert binary_auroc(np.full(10, 0.3), np.arange(10) < 4) == 0.5
    # positives .5 .9, negatives .5 .2: pairs 0.5 (tie) + 1 + 1 + 1 -> 3.5 / 4
    assert binary_auroc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1]) == 0.875


def test_auroc_matches_pairwise_count_with_many_ties():
    rng = np.random.default_rng(0)
    for _ in range(5):
        scores = rng.integers(0, 4, size=40).astype(float)  # heavy ties
        labels = rng.random(40) < 0.4
        assert binary_auroc(scores, labels) == pytest.approx(pairwise_auroc(scores, labels))


@pytest.mark.parametrize('scores, labels, match', [
    ([0.1, 0.2], [1, 1], '2 positives and 0 negatives'),
    ([0.1, 0.2], [0, 0], '0 positives and 2 negatives'),
    ([0.1, np.nan], [0, 1], 'NaN'),
    ([0.1, 0.2, 0.3], [0, 1], 'one score per label'),
])
def test_auroc_bad_input(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        binary_auroc(scores, labels)


def test_topk_keep_breaks_ties_to_the_lower_unit():
    keep = topk_keep([[1, 2, 2, 0], [3, 3, 3, 3]], [2, 1])
    assert keep.tolist() == [[False, True, True, False], [True, False, False, False]]
    with pytest.raises(ValueError, match='k must lie in 0..4'):
        topk_keep(np.zeros((1, 4)), 5)


# ------------------------------------------------------------------ the worked example
def worked_example():
    """Two 4x4 masks on a 2x2 unit grid (units of 2x2 pixels).

    A: unit 0 full object, unit 1 one object pixel (fraction 0.25), units 2, 3 empty.
    B: unit 3 full object, others empty.
    With fg_threshold 0.1, background units: A 2, 3; B 0, 1, 2.
    """
    a = np.zeros((4, 4), bool)
    a[:2, :2] = True
    a[0, 2] = True
    b = np.zeros((4, 4), bool)
    b[2:, 2:] = True
    masks = [a, b]
    prob = np.array([[0.1, 0.6, 0.7, 0.9], [0.8, 0.2, 0.5, 0.3]])
    keep = np.array([[1, 1, 0, 0], [0, 1, 0, 1]], bool)
    attn = np.array([[0.5, 0.3, 0.1, 0.1], [0.2, 0.2, 0.2, 0.2]])
    return masks, prob, keep, attn


def test_scores_on_the_worked_example():
    masks, prob, keep, attn = worked_example()
    fg = np.stack([unit_foreground_fraction(m, 4) for m in masks])
    np.testing.assert_allclose(fg, [[1, 0.25, 0, 0], [0, 0, 0, 1]])
    out = patch_selection_scores(fg, prob, keep, attn)
    # selector: background {.7 .9 .8 .2 .5} vs foreground {.1 .6 .3}: 3+3+3+1+2 = 12 of 15
    assert out['selection/selector_auroc'] == pytest.approx(12 / 15)
    # kept: A units 0, 1 (both foreground), B units 1 (bg), 3 (fg): 3 of 4
    assert out['selection/selector_precision'] == pytest.approx(75.0)
    # attention, score -attn: background {-.1 -.1 -.2 -.2 -.2} vs foreground {-.5 -.3 -.2}:
    # -.1 beats all 3 (x2), -.2 beats 2 and ties 1 (x3): (6 + 7.5) / 15
    assert out['selection/attention_auroc'] == pytest.approx(13.5 / 15)
    # attention top-2: A units 0, 1 (fg, fg); B all tied -> units 0, 1 (bg, bg): 2 of 4
    assert out['selection/attention_precision'] == pytest.approx(50.0)
    assert out['selection/chance_precision'] == pytest.approx(100 * 3 / 8)
    assert out['selection/max_precision'] == pytest.approx(100 * (2 + 1) / 4)
    assert out['selection/background_units'] == pytest.approx(100 * 5 / 8)
    # per image: A {.7 .9} vs {.1 .6} -> 1; B {.8 .2 .5} vs {.3} -> 2/3
    per_image = patch_selection_scores(fg, prob, keep, auroc='per_image')
    assert per_image['selection/selector_auroc'] == pytest.approx((1 + 2 / 3) / 2)
    assert 'selection/attention_auroc' not in per_image
    # a higher threshold makes A's unit 1 (fraction 0.25) background
    strict = patch_selection_scores(fg, prob, keep, fg_threshold=0.3)
    assert strict['selection/selector_precision'] == pytest.approx(50.0)
    assert strict['selection/background_units'] == pytest.approx(100 * 6 / 8)


def test_scores_bad_input():
    masks, prob, keep, attn = worked_example()
    fg = np.stack([unit_foreground_fraction(m, 4) for m in masks])
    with pytest.raises(ValueError, match=r'keep_mask has shape \(2, 3\), expected \(2, 4\)'):
        patch_selection_scores(fg, prob, keep[:, :3])
    with pytest.raises(ValueError, match='fg_threshold'):
        patch_selection_scores(fg, prob, keep, fg_threshold=0)
    with pytest.raises(ValueError, match='auroc must be one of'):
        patch_selection_scores(fg, prob, keep, auroc='micro')
    # all units foreground: AUROC undefined -> NaN (the precision is still defined)
    out = patch_selection_scores(np.ones((2, 4)), prob, keep)
    assert np.isnan(out['selection/selector_auroc'])
    assert out['selection/selector_precision'] == 100.0
    assert np.isnan(kept_precision(np.zeros((1, 4), bool), np.ones((1, 4), bool)))
    assert np.isnan(per_image_auroc(prob, np.ones((2, 4), bool)))


# ------------------------------------------------------------------ the metric
def samples_of(masks, prob, keep, attn=None, dtype=torch.float32):
    """Samples as MMEngine's Evaluator hands them to metrics (dicts of tensors)."""
    out = []
    for i, m in enumerate(masks):
        s = dict(gt_fg_mask=torch.from_numpy(m), selector_prob=torch.tensor(prob[i], dtype=dtype),
                 keep_mask=torch.from_numpy(keep[i]), img_path=f'img{i}.png')
        if attn is not None:
            s['attention_unit_scores'] = torch.tensor(attn[i], dtype=dtype)
        out.append(s)
    return out


def run_metric(metric, samples):
    metric.process(None, samples)
    return metric.compute_metrics(metric.results)


def test_metric_reproduces_the_worked_example():
    masks, prob, keep, attn = worked_example()
    out = run_metric(PatchSelectionMetric(), samples_of(masks, prob, keep, attn))
    assert out['selection/selector_auroc'] == pytest.approx(12 / 15)
    assert out['selection/attention_auroc'] == pytest.approx(13.5 / 15)
    assert out['selection/attention_precision'] == pytest.approx(50.0)
    # bf16 model outputs ([1, U] rows squeezed); attention off
    samples = samples_of(masks, prob, keep, attn, dtype=torch.bfloat16)
    for s in samples:
        s['selector_prob'] = s['selector_prob'][None]
    out = run_metric(PatchSelectionMetric(attention=False), samples)
    assert 'selection/attention_auroc' not in out
    assert out['selection/selector_auroc'] == pytest.approx(12 / 15)  # bf16 keeps the order


def test_metric_errors_name_the_field_and_its_source():
    masks, prob, keep, attn = worked_example()
    samples = samples_of(masks, prob, keep)
    no_mask = [{k: v for k, v in s.items() if k != 'gt_fg_mask'} for s in samples]
    with pytest.raises(KeyError, match="no 'gt_fg_mask'.*LoadForegroundMask.*ZSLSynthetic"):
        PatchSelectionMetric().process(None, no_mask)
    no_prob = [{k: v for k, v in s.items() if k != 'selector_prob'} for s in samples]
    with pytest.raises(KeyError, match="no 'selector_prob'.*SVIPClassifier"):
        PatchSelectionMetric().process(None, no_prob)
    with pytest.raises(KeyError, match="no 'attention_unit_scores'.*predict_attention=True"):
        PatchSelectionMetric(attention=True).process(None, samples)
    mixed = samples_of(masks, prob, keep, attn)[:1] + samples[1:]
    metric = PatchSelectionMetric()
    metric.process(None, mixed)
    with pytest.raises(ValueError, match='1 of 2 samples carry'):
        metric.compute_metrics(metric.results)
    bad = samples_of(masks, prob, keep)
    bad[0]['gt_fg_mask'] = torch.zeros(4, 4, 3)
    with pytest.raises(ValueError, match=r"'gt_fg_mask' of img0.png: .*\[H, W\]"):
        PatchSelectionMetric().process(None, bad)
    with pytest.raises(ValueError, match='no samples'):
        PatchSelectionMetric().compute_metrics([])
    for kwargs, match in ((dict(fg_threshold=1.5), 'fg_threshold'),
                          (dict(attention='yes'), 'attention must be'),
                          (dict(auroc='x'), 'auroc must be')):
        with pytest.raises(ValueError, match=match):
            PatchSelectionMetric(**kwargs)


# ------------------------------------------------------------------ the transform
@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    from svip_mm.datasets import ZSLSynthetic
    root = tmp_path_factory.mktemp('synthetic')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadForegroundMask'),
                dict(type='PackInputs', algorithm_keys=['is_unseen', 'gt_fg_mask'])]
    return ZSLSynthetic(data_root=str(root), split='test', test_mode=True, pipeline=pipeline,
                        generator_overrides=dict(images_per_class=4))


def test_transform_puts_the_real_mask_on_the_sample(synthetic):
    info = synthetic.get_data_info(0)
    packed = synthetic[0]
    mask = packed['data_samples'].gt_fg_mask
    expected = np.asarray(Image.open(info['fg_mask_path'])) >= 128
    assert mask.dtype == torch.bool and tuple(mask.shape) == packed['inputs'].shape[1:]
    assert np.array_equal(mask.numpy(), expected) and 0 < expected.mean() < 1
    # the metric reads it: every unit fraction equals the block mean of the PNG
    g = 4
    h = expected.shape[0] // g
    np.testing.assert_allclose(unit_foreground_fraction(mask, g * g),
                               expected.reshape(g, h, g, h).mean(axis=(1, 3)).ravel())
    # ... and the model's unit numbering: 8 px patches in raster order (as the ViT's patch
    # embedding flattens them), grouped into 2x2-patch units by the model's own helper
    patch_means = torch.nn.functional.avg_pool2d(mask[None, None].float(), 8).flatten(1)
    model_units = patch_scores_to_unit_scores(patch_means, (8, 8), 2)[0]
    np.testing.assert_allclose(unit_foreground_fraction(mask, 16), model_units.numpy(),
                               atol=1e-6)


def test_transform_bad_input(synthetic, tmp_path):
    info = dict(synthetic.get_data_info(0))
    with pytest.raises(KeyError, match="no 'fg_mask_path'.*ZSLSynthetic"):
        LoadForegroundMask()(dict(img_path=info['img_path']))
    with pytest.raises(FileNotFoundError, match='mask file not found'):
        LoadForegroundMask()(dict(fg_mask_path=str(tmp_path / 'absent.png')))
    with pytest.raises(ValueError, match='is 64x64 but the image is 32x32'):
        LoadForegroundMask()(dict(info, img=np.zeros((32, 32, 3), np.uint8)))
    rgb = tmp_path / 'rgb.png'
    Image.new('RGB', (8, 8)).save(rgb)
    with pytest.raises(ValueError, match='single-channel'):
        LoadForegroundMask()(dict(fg_mask_path=str(rgb)))
    with pytest.raises(ValueError, match='threshold'):
        LoadForegroundMask(threshold=0)
