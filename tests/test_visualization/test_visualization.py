"""svip_mm.visualization: the data each figure draws, on planted arrays (4x4 and ViT-B-sized
7x7 unit grids) and on a tiny random SVIP model; the test hook end to end through
``tools/test.py --show-dir`` on a few synthetic test images."""
import copy
import dataclasses
import pickle

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle
from matplotlib.patheffects import withStroke
from mmengine.registry import init_default_scope
from mmpretrain.registry import HOOKS, MODELS

import svip_mm  # noqa: F401
from svip_mm.engine import prepare_data
from svip_mm.models.necks import attention_rollout
from svip_mm.models.utils import patches_to_units
from svip_mm.visualization import (SVIPVisualizationHook, analyse_image, attention_panel_labels,
                                   input_to_display, localise_attributes, plot_attention_maps,
                                   plot_attribute_localisation, plot_image_summary,
                                   plot_selection, prediction_title, selection_panel_labels)
from svip_mm.visualization.grid import unit_at, unit_boxes
from tiny_config import tiny_cfg
from repo import load_tool

K, C = 15, 40


def panel(fig, label):
    found = [ax for ax in fig.axes if ax.get_label() == label]
    assert len(found) == 1, f'{label}: {[ax.get_label() for ax in fig.axes]}'
    return found[0]


def image_with_gid(ax, gid):
    found = [im for im in ax.get_images() if im.get_gid() == gid]
    assert len(found) == 1
    return np.asarray(found[0].get_array())


def colorbar_label(ax, gid):
    """The label of the colourbar drawn for the image ``gid`` (fails when it has none)."""
    found = [im for im in ax.get_images() if im.get_gid() == gid]
    assert len(found) == 1 and found[0].colorbar is not None, f'{ax.get_label()}: no colourbar'
    cbar = found[0].colorbar
    # an inset of the panel: fig.axes stays one axes per panel
    assert cbar.ax in ax.child_axes and cbar.ax not in ax.figure.axes
    return cbar.ax.get_ylabel()


def rects(ax, gid):
    return [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid() == gid]


def units_of(rectangles, grid, covered):
    """The unit index under the centre of each rectangle (checking it fills the unit)."""
    boxes = unit_boxes(grid, covered)
    out = []
    for r in rectangles:
        x, y = r.get_xy()
        u = unit_at(x + r.get_width() / 2, y + r.get_height() / 2, grid, covered)
        assert np.allclose((x, y, r.get_width(), r.get_height()), boxes[u])
        out.append(u)
    return out


@pytest.fixture(scope='module')
def model():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    init_default_scope('mmpretrain')
    rng = np.random.default_rng(0)
    m = MODELS.build(dict(
        type='SVIPClassifier',
        backbone=dict(type='SVIPVisionTransformer',
                      arch=dict(embed_dims=32, num_layers=3, num_heads=2, patch_size=8,
                                img_size=64)),
        neck=dict(type='SemanticPatchSelector', in_channels=32, num_attributes=K, keep_k=6,
                  word_vectors=rng.normal(size=(K, 10))),
        head=dict(type='SemanticAttributeHead', num_attributes=K, in_channels=32,
                  num_classes=C, class_attributes=rng.random((C, K)),
                  seen_classes=list(range(30)))))
    return m.eval()


@pytest.fixture(scope='module')
def analysis(model):
    torch.manual_seed(1)
    x = torch.randn(1, 3, 64, 64)
    image = np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    return x, analyse_image(model, x, image, attribute_names=[f'att{i}' for i in range(K)])


# ------------------------------------------------------------------ analysis
def test_analysis_matches_the_model(model, analysis):
    x, a = analysis
    with torch.no_grad():
        sample = model.predict(x)[0]
    np.testing.assert_array_equal(a.keep_mask, sample.keep_mask.numpy())
    np.testing.assert_allclose(a.selector_prob, sample.selector_prob.numpy(), atol=1e-6)
    np.testing.assert_allclose(a.attribute_scores, sample.pred_attributes.numpy(), atol=1e-6)
    np.testing.assert_allclose(a.class_scores, sample.pred_score.numpy(), atol=1e-6)
    assert a.patch_grid == (8, 8) and a.unit_grid == (4, 4) and a.covered_hw == (64, 64)
    assert a.layer_attention.shape == (3, 64) and a.unit_attribute_scores.shape == (16, K)
    # per-unit scores are head.fc of the inference pass's final units; mean pooling gives
    # the prediction
    with torch.no_grad():
        patches, grid = model.backbone.embed(x)
        keep = model.neck.keep_from_selector(model.neck.selector_logits(patches, grid))
        tokens, _ = model.backbone.encode(model.neck.contextualise(patches, keep, grid), grid)
        expected = model.head.fc(patches_to_units(tokens[:, 1:], grid, 2))[0]
    np.testing.assert_allclose(a.unit_attribute_scores, expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(a.unit_attribute_scores.mean(0), a.attribute_scores, atol=1e-5)
    assert model.training is False


def test_rollout_panel_is_the_aggregation_output(model, analysis):
    x, a = analysis
    with torch.no_grad():
        patches, grid = model.backbone.embed(x)
        _, maps = model.backbone.encode(patches, grid, return_attn=True)
    expected = attention_rollout(maps)[0].reshape(8, 8).numpy()
    fig = plot_attention_maps(a.image, a.layer_attention, a.aggregated_attention, a.patch_grid)
    assert [ax.get_label() for ax in fig.axes] == attention_panel_labels(3)
    np.testing.assert_allclose(image_with_gid(panel(fig, 'aggregated'), 'attention'), expected,
                               rtol=1e-5, atol=1e-7)
    for layer, m in enumerate(maps):
        np.testing.assert_allclose(
            image_with_gid(panel(fig, f'layer_{layer + 1}'), 'attention'),
            m[0, 0, 1:].reshape(8, 8).numpy(), rtol=1e-5, atol=1e-7)
    assert not panel(fig, 'image').get_images()[0].get_gid()


def test_attention_maps_have_labelled_colourbars_on_their_own_scale(analysis):
    _, a = analysis
    fig = plot_attention_maps(a.image, a.layer_attention, a.aggregated_attention, a.patch_grid,
                              aggregation='rollout')
    maps = {f'layer_{i + 1}': m for i, m in enumerate(a.layer_attention)}
    maps['aggregated'] = a.aggregated_attention
    for label, values in maps.items():
        ax = panel(fig, label)
        expected = 'rollout score' if label == 'aggregated' else 'attention weight'
        assert colorbar_label(ax, 'attention') == expected
        # each scale spans that map's own values
        im = [im for im in ax.get_images() if im.get_gid() == 'attention'][0]
        assert (im.norm.vmin, im.norm.vmax) == pytest.approx((values.min(), values.max()))
    assert panel(fig, 'image').get_images()[0].colorbar is None
    assert panel(fig, 'layer_2').get_title().startswith('layer 2: CLS attention')
    assert 'rollout of all 3 layers' in panel(fig, 'aggregated').get_title()
    assert "selector's training target" in panel(fig, 'aggregated').get_title()


def test_attention_figure_vit_b_sized():
    rng = np.random.default_rng(0)
    layers, agg = rng.random((12, 196)), rng.random(196)
    fig = plot_attention_maps(np.zeros((224, 224, 3), np.uint8), layers, agg, (14, 14))
    assert len(fig.axes) == 14
    np.testing.assert_allclose(image_with_gid(panel(fig, 'layer_12'), 'attention'),
                               layers[11].reshape(14, 14))
    with pytest.raises(ValueError, match=r'\[L, 196\]'):
        plot_attention_maps(np.zeros((224, 224, 3), np.uint8), layers[:, :100], agg, (14, 14))


# ------------------------------------------------------------------ selection
@pytest.mark.parametrize('grid,size', [((4, 4), 64), ((7, 7), 224)])
def test_selection_overlay_marks_exactly_the_kept_units(grid, size):
    rng = np.random.default_rng(3)
    n = grid[0] * grid[1]
    keep = np.zeros(n, bool)
    keep[rng.permutation(n)[:n * 5 // 8]] = True
    prob = rng.random(n)
    fig = plot_selection(np.zeros((size, size, 3), np.uint8), keep, prob)
    assert [ax.get_label() for ax in fig.axes] == selection_panel_labels()
    sel = panel(fig, 'selection')
    kept = units_of(rects(sel, 'kept'), grid, (size, size))
    ctx = units_of(rects(sel, 'contextualised'), grid, (size, size))
    assert sorted(kept) == np.flatnonzero(keep).tolist()
    assert sorted(ctx) == np.flatnonzero(~keep).tolist()
    np.testing.assert_allclose(image_with_gid(panel(fig, 'selector_prob'), 'unit_values'),
                               prob.reshape(grid))


def test_selection_with_attention_and_ground_truth_mask():
    # 4x4 units on a 64 px image: the object fills units 5, 6 and half of unit 9
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    mask[32:48, 32:48] = 0
    mask[32:40, 16:32] = 0  # unit 9: half foreground
    keep = np.zeros(16, bool)
    keep[[5, 6, 9, 0]] = True
    att = np.arange(16, dtype=float)  # units 15, 14, 13, 12 most attended
    fig = plot_selection(np.zeros((64, 64, 3), np.uint8), keep, np.full(16, 0.5),
                         attention_unit_scores=att, gt_mask=mask)
    assert [ax.get_label() for ax in fig.axes] == selection_panel_labels(True, True)
    assert sorted(units_of(rects(panel(fig, 'attention_units'), 'kept'), (4, 4),
                           (64, 64))) == [12, 13, 14, 15]
    gt = panel(fig, 'ground_truth')
    assert sorted(units_of(rects(gt, 'kept'), (4, 4), (64, 64))) == [0, 5, 6, 9]
    crossed = [ln for ln in gt.lines if ln.get_gid() == 'background']
    # background: every unit but 5, 6, 9 (unit 10 is 0% foreground after the cut)
    assert len(crossed) == 13
    assert gt.get_title().startswith('true object (white): 3 of the 4 kept\nunits are on it')
    with pytest.raises(ValueError, match='one per unit'):
        plot_selection(np.zeros((64, 64, 3), np.uint8), keep, np.ones(9))


@pytest.mark.parametrize('mode,words', [('add', 'get the context token e added'),
                                        ('replace', 'are replaced by the context token e'),
                                        ('drop', 'are zeroed'),
                                        (None, 'receive the context token e')])
def test_selection_panels_say_what_they_show(mode, words):
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    mask[16:24, 16:32] = 0  # unit 5: 1/2 foreground
    mask[16:20, 32:48] = 0  # unit 6: 3/4 foreground
    keep = np.zeros(16, bool)
    keep[[5, 6, 9, 15]] = True
    prob = np.where(keep, 0.2, 0.7) + np.linspace(0, 0.1, 16)  # kept = the 4 lowest
    fig = plot_selection(np.full((64, 64, 3), 255, np.uint8), keep, prob,
                         attention_unit_scores=np.arange(16.0), gt_mask=mask, context_mode=mode)
    sel_title = panel(fig, 'selection').get_title()
    assert 'selector keeps 4 of 16 units' in sel_title
    assert '(16x16 px' in sel_title  # 4x4 units over 64 px
    assert f'the other 12\n(hatched) {words}' in sel_title
    assert 'e on' not in sel_title
    sp = panel(fig, 'selector_prob')
    assert colorbar_label(sp, 'unit_values') == 'P(unrelated)'
    im = [im for im in sp.get_images() if im.get_gid() == 'unit_values'][0]
    assert (im.norm.vmin, im.norm.vmax) == (0.0, 1.0)
    assert 'the 4 lowest are kept' in sp.get_title()
    att = panel(fig, 'attention_units')
    assert colorbar_label(att, 'unit_values') == 'attention per unit'
    assert 'rank written in (1 = highest)' in att.get_title()
    # the foreground fractions, computed here from the planted mask, one per 16 px block
    frac = (mask.reshape(4, 16, 4, 16) > 0).mean(axis=(1, 3)).reshape(-1)
    gt = panel(fig, 'ground_truth')
    boxes = unit_boxes((4, 4), (64, 64))
    drawn = {unit_at(*t.get_position(), (4, 4), (64, 64)): t for t in gt.texts}
    assert sorted(drawn) == list(range(16))
    for u, t in drawn.items():
        x0, y0, bw, bh = boxes[u]
        assert t.get_position() == pytest.approx((x0 + bw / 2, y0 + bh / 2))
        assert abs(float(t.get_text()) - frac[u]) <= 0.05 + 1e-9  # written to 1 decimal
        # white with a dark outline: legible on the white object and the dark background
        assert t.get_color() == 'white'
        assert any(isinstance(e, withStroke) for e in t.get_path_effects())
    assert [drawn[u].get_text() for u in (5, 6, 9, 0)] == ['0.5', '0.8', '1.0', '0.0']
    assert gt.get_title().startswith('true object (white): 3 of the 4 kept')
    # a keep set that is not the selector's 4 lowest (oracle selection) is not credited to it
    fig = plot_selection(np.zeros((64, 64, 3), np.uint8), keep, 1 - prob, context_mode=mode)
    assert panel(fig, 'selection').get_title().startswith('kept (not by the selector): 4 of 16')
    assert 'the 4 kept units are not its 4 lowest' in panel(fig, 'selector_prob').get_title()
    fig = plot_selection(np.zeros((64, 64, 3), np.uint8), keep)
    assert panel(fig, 'selection').get_title().startswith('kept: 4 of 16')


def test_selection_on_a_rectangular_grid():
    keep = np.array([1, 0, 1, 0, 0, 1], bool)
    fig = plot_selection(np.zeros((40, 60, 3), np.uint8), keep, unit_grid=(2, 3))
    assert sorted(units_of(rects(panel(fig, 'selection'), 'kept'), (2, 3), (40, 60))) == \
        [0, 2, 5]
    with pytest.raises(ValueError, match='not a square number'):
        plot_selection(np.zeros((40, 60, 3), np.uint8), keep)


# ------------------------------------------------------------------ localisation
def test_attribute_localisation_picks_the_highest_unit():
    rng = np.random.default_rng(4)
    scores = rng.random((49, 6)) * 0.1
    scores[30, 2] = 5.0
    scores[0, 4] = 3.0
    scores[48, 1] = 4.0
    pooled = np.array([0.1, 0.2, 0.9, 0.0, 1.0, 0.3])  # ranking: 4, 2, 5, ...
    found = localise_attributes(scores, pooled, top=2)
    assert [(f['attribute'], f['best_unit']) for f in found] == [(4, 0), (2, 30)]
    assert found[1]['best_score'] == 5.0 and found[0]['score'] == 1.0
    assert [f['best_unit'] for f in localise_attributes(scores, attributes=[1])] == [48]
    names = [f'a{i}' for i in range(6)]
    fig = plot_attribute_localisation(np.zeros((224, 224, 3), np.uint8), scores, pooled, names,
                                      top=3)
    assert [ax.get_label() for ax in fig.axes] == ['attribute_4', 'attribute_2', 'attribute_5']
    for attr, unit in ((4, 0), (2, 30)):
        ax = panel(fig, f'attribute_{attr}')
        assert units_of(rects(ax, 'best_unit'), (7, 7), (224, 224)) == [unit]
        np.testing.assert_allclose(image_with_gid(ax, 'unit_values'),
                                   scores[:, attr].reshape(7, 7))
    assert panel(fig, 'attribute_2').get_title().startswith('a2\n')
    for attr, unit in ((4, 0), (2, 30)):
        ax = panel(fig, f'attribute_{attr}')
        assert colorbar_label(ax, 'unit_values') == 'attribute score per unit'
        # the title names the red box by the row and column numbers on the axes' ticks
        row, col = unit // 7 + 1, unit % 7 + 1
        assert f'highest unit: row {row}, col {col}' in ax.get_title()
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in range(1, 8)]
        assert [t.get_text() for t in ax.get_yticklabels()] == [str(r) for r in range(1, 8)]
        box = rects(ax, 'best_unit')[0]
        assert ax.get_xticks()[col - 1] == pytest.approx(box.get_x() + box.get_width() / 2)
        assert ax.get_yticks()[row - 1] == pytest.approx(box.get_y() + box.get_height() / 2)
    with pytest.raises(ValueError, match='top=7'):
        localise_attributes(scores, pooled, top=7)
    with pytest.raises(ValueError, match='K = 6'):
        localise_attributes(scores, np.ones(5))


# ------------------------------------------------------------------ summary + helpers
def test_summary_figure_has_every_panel(analysis, tmp_path):
    _, a = analysis
    mask = np.zeros((64, 64), bool)
    mask[8:40, 8:40] = True
    fig = plot_image_summary(a, gt_mask=mask, top_attributes=3)
    labels = [ax.get_label() for ax in fig.axes]
    top3 = [f'attribute_{i}' for i in np.argsort(-a.attribute_scores, kind='stable')[:3]]
    assert labels == attention_panel_labels(3) + selection_panel_labels(True, True) + top3
    sel = panel(fig, 'selection')
    assert sorted(units_of(rects(sel, 'kept'), (4, 4), (64, 64))) == \
        np.flatnonzero(a.keep_mask).tolist()
    out = tmp_path / 'summary.png'
    fig.savefig(out, dpi=40)
    assert mpimg.imread(str(out)).ndim == 3


def test_summary_rows_fill_the_width_and_are_titled(analysis):
    _, a = analysis
    mask = np.zeros((64, 64), bool)
    mask[8:40, 8:40] = True
    # 5 attention panels, 4 selection panels, 3 attributes: each row spans the whole width
    fig = plot_image_summary(a, gt_mask=mask, top_attributes=3)
    fig.draw_without_rendering()
    rows = fig.subfigs
    assert len(rows) == 3
    for row in rows:
        # the panels and their colourbars (insets of the panels)
        boxes = [a.get_position() for ax in row.axes for a in [ax, *ax.child_axes]]
        left, right = min(b.x0 for b in boxes), max(b.x1 for b in boxes)
        assert left < 0.05 and right > 0.9, (row.get_suptitle(), left, right)
    assert [r.get_suptitle()[:3] for r in rows] == ['1. ', '2. ', '3. ']
    assert 'true object' in rows[1].get_suptitle()
    assert 'top 3 predicted attributes' in rows[2].get_suptitle()


def test_titles_mark_seen_and_unseen_classes(analysis):
    _, a = analysis
    names = [f'c{i}' for i in range(C)]
    unseen = np.arange(C) >= 30  # the model fixture's split
    for pred, gt in ((35, 2), (3, 31)):
        scores = np.full(C, 0.5 / (C - 1))
        scores[pred] = 0.5
        planted = dataclasses.replace(a, class_scores=scores, class_names=names, unseen=unseen)
        title = prediction_title(planted, gt, '#7 img')
        mark = {i: '[unseen]' if unseen[i] else '[seen]' for i in (pred, gt)}
        assert title == (f'#7 img: predicted c{pred} {mark[pred]} (p = 0.50) | '
                         f'true c{gt} {mark[gt]}')
        fig = plot_image_summary(planted, top_attributes=2)
        assert fig.get_suptitle() == prediction_title(planted)
    # the model's own split: its prediction is marked as the head's seen_mask says
    p = a.pred_label
    assert prediction_title(a).startswith(
        f'predicted class {p} {"[unseen]" if p >= 30 else "[seen]"}')
    assert '[' not in prediction_title(dataclasses.replace(a, unseen=None))


def test_input_to_display_flips_bgr():
    raw = torch.zeros(3, 4, 5, dtype=torch.uint8)
    raw[0] = 255  # blue in BGR
    rgb = input_to_display(raw, bgr=True)
    assert rgb.shape == (4, 5, 3) and (rgb[..., 2] == 255).all() and (rgb[..., 0] == 0).all()
    assert (input_to_display(raw, bgr=False)[..., 0] == 255).all()


# ------------------------------------------------------------------ hook + tools/test.py
@pytest.fixture(scope='module')
def tiny_job(tmp_path_factory):
    """A 5-image synthetic test set (2 seen + 3 unseen) and a checkpoint of an untrained model
    of the right shape."""
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp('vis_hook')
    cfg = tiny_cfg(base / 'data', base / 'work', images_per_class=3, batch_size=4)
    prepare_data(cfg)
    from mmpretrain.registry import DATASETS
    ds = DATASETS.build(dict(cfg.test_dataloader.dataset, pipeline=[]))
    unseen = [i for i in range(len(ds)) if ds.get_data_info(i)['is_unseen']]
    seen = [i for i in range(len(ds)) if not ds.get_data_info(i)['is_unseen']]
    cfg.test_dataloader.dataset.indices = seen[:2] + unseen[:3]
    cfg.dump(str(base / 'tiny.py'))
    init_default_scope('mmpretrain')
    net = MODELS.build(copy.deepcopy(cfg.model))
    torch.save(dict(state_dict=net.state_dict(), meta=dict()), base / 'init.pth')
    return base


@pytest.mark.parametrize('show_max,expected', [(None, 5), (2, 2)])
def test_show_dir_writes_one_png_per_image(tiny_job, tmp_path, show_max, expected):
    tool = load_tool('test')
    argv = [str(tiny_job / 'tiny.py'), str(tiny_job / 'init.pth'), '--work-dir',
            str(tmp_path / 'work'), '--show-dir', str(tmp_path / 'vis')]
    if show_max is not None:
        argv += ['--show-max', str(show_max)]
    args = tool.parse_args(argv)
    hook_cfg = tool.build_cfg(args).default_hooks['visualization']
    assert HOOKS.get(hook_cfg['type']) is SVIPVisualizationHook
    metrics = tool.main(argv)
    assert 'zsl/top1' in metrics
    pngs = sorted((tmp_path / 'vis').glob('*.png'))
    assert len(pngs) == expected
    assert len({p.name.split('_')[0] for p in pngs}) == expected  # one per sample index
    img = mpimg.imread(str(pngs[0]))
    assert img.ndim == 3 and img.shape[0] > 300


def test_show_dir_with_oracle_selection_uses_the_ground_truth_masks(tiny_job, tmp_path):
    # the figures rerun the model per image: with oracle selection that needs the sample's mask
    tool = load_tool('test')
    argv = [str(tiny_job / 'tiny.py'), str(tiny_job / 'init.pth'), '--work-dir',
            str(tmp_path / 'work'), '--show-dir', str(tmp_path / 'vis'), '--show-max', '2',
            '--out', str(tmp_path / 'preds.pkl'),
            '--cfg-options', 'model.selection=oracle', 'model.oracle_min_fraction=0.1']
    tool.main(argv)
    assert len(sorted((tmp_path / 'vis').glob('*.png'))) == 2
    preds = pickle.loads((tmp_path / 'preds.pkl').read_bytes())
    for p in preds[:2]:  # the keep set is the mask's: units with >= 10% foreground
        assert p['keep_mask'].any() and not p['keep_mask'].all()


def test_hook_arguments():
    with pytest.raises(ValueError, match='max_images'):
        SVIPVisualizationHook(max_images=-1)
    with pytest.raises(ValueError, match='interval'):
        SVIPVisualizationHook(interval=0)
    tool = load_tool('test')
    with pytest.raises(SystemExit):
        tool.parse_args([__file__, __file__, '--show-max', '2'])  # without --show-dir
