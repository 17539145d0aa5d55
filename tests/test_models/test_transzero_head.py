"""TransZeroHead, its losses and configs (docs/transzero.md): shapes, every loss term against
plain numpy, the self-calibration switch, one train and test step behind mmpretrain's
ImageClassifier + VisionTransformer, and the published numbers in the real-dataset configs."""
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import svip_mm  # noqa: F401
from svip_mm.models.heads.transzero_head import GeometryEncoderLayer, grid_geometry_embedding

from repo import REPO
K, C, D, SEEN = 4, 5, 8, [0, 1, 2]


def _softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def _table(seed=0):
    return np.random.default_rng(seed).uniform(0.1, 1.0, size=(C, K))


def _head(**kwargs):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    args = dict(type='TransZeroHead', num_attributes=K, in_channels=D, num_classes=C,
                word_vectors=np.random.default_rng(1).normal(size=(K, 6)), embed_dims=12,
                feedforward_channels=16, class_attributes=_table(), seen_classes=SEEN)
    args.update(kwargs)
    return MODELS.build(args)


def _samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize('layout', ['featmap', 'raw'])
def test_output_shapes(layout):
    head = _head()
    b, h, w = 3, 4, 4
    feat = torch.randn(b, D, h, w)
    if layout == 'raw':  # CLS first, then the patches in raster order
        feat = torch.cat([torch.randn(b, 1, D), feat.flatten(2).transpose(1, 2)], dim=1)
    feats = (feat, )
    assert head(feats).shape == (b, K)
    patches, grid = head.patch_tokens(feats)
    assert patches.shape == (b, h * w, D) and grid == (h, w)
    assert torch.allclose(patches.norm(dim=-1), torch.ones(b, h * w), atol=1e-5)
    t, v, maps = head.transformer(feats, need_weights=True)
    assert t.shape == (b, K, 12) and v.shape == (K, 6) and maps.shape == (b, K, h * w)
    maps = head.attribute_maps(feats)
    assert maps.shape == (b, K, h, w)
    assert torch.allclose(maps.sum((2, 3)), torch.ones(b, K), atol=1e-5)  # no dropout in maps
    assert head.training  # attribute_maps restores the mode
    losses = head.loss(feats, _samples([0, 1, 2]))
    assert set(losses) == {'loss_ce', 'loss_attribute_regression', 'loss_self_calibration',
                           'train_acc'}
    assert all(losses[k].shape == () for k in losses)
    head.eval()
    out = head.predict(feats)
    assert len(out) == b
    for sample in out:
        assert sample.pred_score.shape == (C, ) and sample.pred_label.shape == (1, )
        assert sample.pred_attributes.shape == (K, )
        assert math.isclose(float(sample.pred_score.sum()), 1.0, rel_tol=1e-5)
        assert not sample.pred_score.requires_grad


def test_raw_tokens_drop_the_cls_token():
    head = _head(num_prefix_tokens=1)
    head.eval()
    grid = torch.randn(2, D, 3, 3)
    raw = torch.cat([torch.full((2, 1, D), 50.0), grid.flatten(2).transpose(1, 2)], dim=1)
    assert torch.allclose(head((raw, )), head((grid, )), atol=1e-5)


# ------------------------------------------------------------------ formulas vs numpy
def test_semantic_embedding_is_v_w1_t():
    head = _head(normalize_word_vectors=True)
    head.eval()
    feats = (torch.randn(2, D, 3, 3), )
    with torch.no_grad():
        t, _, _ = head.transformer(feats)
        e = head(feats).numpy()
    v = head.attribute_embeddings.detach().numpy()
    v = v / np.linalg.norm(v, axis=1, keepdims=True)  # normalize_word_vectors
    w1 = head.semantic_proj.detach().numpy()
    expected = np.stack([[v[k] @ w1 @ t.numpy()[b, k] for k in range(K)] for b in range(2)])
    np.testing.assert_allclose(e, expected, rtol=1e-4, atol=1e-5)


def test_attribute_embeddings_start_as_unit_word_vectors():
    words = np.random.default_rng(1).normal(size=(K, 6))
    head = _head(word_vectors=words)
    np.testing.assert_allclose(head.attribute_embeddings.detach().numpy(),
                               words / np.linalg.norm(words, axis=1, keepdims=True), rtol=1e-5)


def test_grid_geometry_embedding_by_hand():
    # a 1 x 2 grid: column centres 1/4 and 3/4, box width 1/2 + 1; rows coincide
    emb = grid_geometry_embedding((1, 2)).numpy()
    assert emb.shape == (2, 2, 64)
    freqs = 1000.0 ** (-np.arange(8) / 8)
    far = np.log(0.5 / 1.5)  # |3/4 - 1/4| / (1/2 + 1)
    near = np.log(1e-3)      # clamped
    geometry = np.array([near, far, 0.0, 0.0])  # (row, column, size, size) for cells 0 -> 1
    angles = (100.0 * geometry[:, None] * freqs[None, :]).reshape(-1)
    np.testing.assert_allclose(emb[0, 1], np.concatenate([np.sin(angles), np.cos(angles)]),
                               rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(emb[1, 0], emb[0, 1], atol=1e-6)
    diagonal = (100.0 * np.array([near, near, 0, 0])[:, None] * freqs).reshape(-1)
    np.testing.assert_allclose(emb[0, 0], np.concatenate([np.sin(diagonal), np.cos(diagonal)]),
                               rtol=1e-5, atol=1e-4)


def _layer_norm(x, ln):
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + ln.eps) * ln.weight.detach().numpy() + ln.bias.detach().numpy()


def _linear(x, layer):
    return x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()


def test_encoder_layer_by_hand():
    torch.manual_seed(0)
    layer = GeometryEncoderLayer(6, 10, dropout=0.3, attn_drop=0.1).eval()
    x = torch.randn(2, 5, 6)
    penalty = torch.rand(5, 5)
    with torch.no_grad():
        out = layer(x, penalty).numpy()
    xn, g = x.numpy(), penalty.numpy()
    q, k, v = _linear(xn, layer.q_proj), _linear(xn, layer.k_proj), _linear(xn, layer.v_proj)
    probs = np.stack([_softmax(q[b] @ k[b].T / np.sqrt(6) - g) for b in range(2)])
    y = _layer_norm(xn + _linear(probs @ v, layer.out_proj), layer.norm_attn)
    y = _layer_norm(xn + y, layer.norm_residual)  # the released second residual on x
    ffn = _linear(np.maximum(_linear(y, layer.fc1), 0), layer.fc2)
    np.testing.assert_allclose(out, _layer_norm(y + ffn, layer.norm_ffn), rtol=1e-4, atol=1e-5)


def test_geometry_penalty_is_nonnegative_and_plain_has_none():
    head = _head()
    penalty = head.geometry_penalty((3, 3), torch.device('cpu'))
    assert penalty.shape == (9, 9) and bool((penalty >= 0).all())
    plain = _head(encoder_attention='plain')
    assert not hasattr(plain, 'geometry_weight')
    assert plain((torch.randn(2, D, 3, 3), )).shape == (2, K)


# ------------------------------------------------------------------ losses vs numpy
def test_self_calibration_loss_by_hand():
    loss = MODELS.build(dict(type='SelfCalibrationLoss', loss_weight=0.3))
    logits = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]])
    unseen = np.array([False, True, True])
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    mass = p[:, unseen].sum(1)
    expected = -0.3 * np.log(mass.mean())  # the batch mean inside the log
    got = loss(torch.tensor(logits), torch.tensor(unseen))
    assert math.isclose(float(got), expected, rel_tol=1e-6)
    assert not math.isclose(expected, -0.3 * np.log(mass).mean(), rel_tol=1e-3)
    # no log(0): a vanishing unseen mass gives a large finite loss
    far = float(loss(torch.tensor([[200.0, -200.0, -200.0]]), torch.tensor(unseen)))
    assert math.isfinite(far) and far > 100
    with pytest.raises(ValueError, match='unseen_mask'):
        loss(torch.zeros(2, 3), torch.zeros(4, dtype=torch.bool))


def test_attribute_regression_loss_by_hand():
    loss = MODELS.build(dict(type='AttributeRegressionLoss', loss_weight=0.005))
    pred = np.array([[1.0, 2.0], [0.0, -1.0]])
    target = np.array([[0.5, 2.0], [1.0, 1.0]])
    expected = 0.005 * (0.25 + 0 + 1 + 4) / 4
    assert math.isclose(float(loss(torch.tensor(pred), torch.tensor(target))), expected,
                        rel_tol=1e-6)
    with pytest.raises(ValueError, match='one shape'):
        loss(torch.zeros(2, 3), torch.zeros(2, 4))


def _expected_losses(e, labels, table, ce_classes='all', lam=0.3, reg=0.005, bias=1.0):
    a = table / (np.linalg.norm(table, axis=1, keepdims=True) + 1e-5)
    s = e @ a.T
    seen = np.zeros(C, bool)
    seen[SEEN] = True
    if ce_classes == 'all':
        logp = np.log(_softmax(s))
        ce = -logp[np.arange(len(labels)), labels].mean()
    else:
        logp = np.log(_softmax(s[:, seen]))
        ce = -logp[np.arange(len(labels)), [SEEN.index(y) for y in labels]].mean()
    out = dict(loss_ce=ce, loss_attribute_regression=reg * ((e - a[labels]) ** 2).mean())
    if lam is not None:
        biased = s + np.where(seen, -bias, bias)
        out['loss_self_calibration'] = -lam * np.log(_softmax(biased)[:, ~seen].sum(1).mean())
    return out


@pytest.mark.parametrize('ce_classes', ['all', 'seen'])
def test_head_losses_by_hand(ce_classes):
    head = _head(ce_classes=ce_classes)
    e = np.random.default_rng(2).normal(size=(3, K))
    labels = [2, 0, 2]
    losses = head.transzero_losses(torch.tensor(e, dtype=torch.float32), _samples(labels))
    expected = _expected_losses(e, labels, _table(), ce_classes)
    assert set(expected) <= set(losses)
    for key, value in expected.items():
        assert math.isclose(float(losses[key]), value, rel_tol=1e-4), key


def test_prediction_scores_by_hand():
    e = np.random.default_rng(3).normal(size=(2, K))
    a = _table() / (np.linalg.norm(_table(), axis=1, keepdims=True) + 1e-5)
    bias = np.where(np.isin(np.arange(C), SEEN), -1.0, 1.0)
    for at_test, shift in ((True, bias), (False, 0.0)):
        head = _head(bias_at_test=at_test)
        out = head.predictions(torch.tensor(e, dtype=torch.float32))
        scores = np.stack([s.pred_score.numpy() for s in out])
        np.testing.assert_allclose(scores, _softmax(e @ a.T + shift), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out[0].pred_attributes.numpy(), e[0], rtol=1e-6)


def test_clip_negative_attributes():
    table = _table()
    table[3, 1] = -0.5
    head = _head(class_attributes=table, clip_negative_attributes=True)
    clipped = np.where(table < 0, 0, table)
    np.testing.assert_allclose(head.class_attributes.numpy(), clipped / (
        np.linalg.norm(clipped, axis=1, keepdims=True) + 1e-5), rtol=1e-5)
    assert float(_head(class_attributes=table).class_attributes[3, 1]) < 0


# ------------------------------------------------------------------ the switch
def _losses_with_unseen_rows(head, seed):
    table = _table()
    table[3:] = _table(seed)[3:]  # change only the unseen classes' attribute vectors
    head.set_class_attributes(table, SEEN)
    e = torch.tensor(np.random.default_rng(4).normal(size=(3, K)), dtype=torch.float32)
    return head.transzero_losses(e, _samples([0, 1, 2]))


def test_self_calibration_switch():
    on, off = _head(), _head(self_calibration=None)
    assert on.self_calibration is not None and off.self_calibration is None
    assert 'loss_self_calibration' in on.loss((torch.randn(2, D, 2, 2), ), _samples([0, 1]))
    assert 'loss_self_calibration' not in off.loss((torch.randn(2, D, 2, 2), ),
                                                   _samples([0, 1]))
    # transductive by default: the losses read the unseen classes' attribute vectors
    a, b = _losses_with_unseen_rows(on, 10), _losses_with_unseen_rows(on, 11)
    assert not math.isclose(float(a['loss_self_calibration']),
                            float(b['loss_self_calibration']), rel_tol=1e-4)
    # inductive: no self-calibration and the cross-entropy over seen classes only
    inductive = _head(self_calibration=None, ce_classes='seen')
    a, b = (_losses_with_unseen_rows(inductive, 10),
            _losses_with_unseen_rows(inductive, 11))
    assert set(a) == set(b)
    for key in a:
        assert float(a[key]) == float(b[key]), key
    # only the self-calibration switched off: the all-class cross-entropy still reads them
    a, b = _losses_with_unseen_rows(off, 10), _losses_with_unseen_rows(off, 11)
    assert float(a['loss_ce']) != float(b['loss_ce'])


def test_argument_errors():
    with pytest.raises(ValueError, match='word_vectors'):
        _head(word_vectors=None)
    with pytest.raises(ValueError, match=r'num_attributes=4'):
        _head(word_vectors=np.zeros((K + 1, 6)))
    with pytest.raises(ValueError, match='ce_classes'):
        _head(ce_classes='unseen')
    with pytest.raises(ValueError, match='encoder_attention'):
        _head(encoder_attention='relative')
    with pytest.raises(ValueError, match='decoder_heads'):
        _head(decoder_heads=5)
    with pytest.raises(ValueError, match='self_calibration=None'):
        _head(seen_classes=list(range(C)))
    _head(seen_classes=list(range(C)), self_calibration=None)
    head = _head()
    with pytest.raises(ValueError, match='in_channels=8'):
        head((torch.randn(1, D + 1, 2, 2), ))


# ------------------------------------------------------------------ behind ImageClassifier
def _synthetic_cfg(name, words):
    cfg = Config.fromfile(str(REPO / f'configs/transzero/{name}.py'))
    cfg.model.backbone.arch = dict(embed_dims=32, num_layers=1, num_heads=2,
                                   feedforward_channels=64)
    cfg.model.head.update(in_channels=32, word_vectors=str(words), embed_dims=24,
                          feedforward_channels=32)
    return cfg


def test_train_and_test_step_behind_image_classifier(tmp_path):
    torch.set_num_threads(1)
    np.save(tmp_path / 'w.npy', np.random.default_rng(0).normal(size=(12, 50))
            .astype(np.float32))
    cfg = _synthetic_cfg('transzero_vit_synthetic', tmp_path / 'w.npy')
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'ImageClassifier'
    assert type(model.backbone).__module__.startswith('mmpretrain.')
    rng = np.random.default_rng(0)
    model.head.set_class_attributes(rng.uniform(size=(40, 12)), list(range(30)))
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    images = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    data = dict(inputs=list(images), data_samples=_samples([0, 5, 17, 29]))
    before = model.head.attribute_embeddings.detach().clone()
    log_vars = model.train_step(data, optim_wrapper)
    assert {'loss', 'loss_ce', 'loss_self_calibration',
            'loss_attribute_regression'} <= set(log_vars)
    assert all(math.isfinite(float(torch.as_tensor(v).detach())) for v in log_vars.values())
    assert not torch.equal(before, model.head.attribute_embeddings.detach())  # V is learnt
    model.eval()
    out = model.test_step(dict(inputs=list(images), data_samples=_samples([0, 5, 33, 39])))
    assert len(out) == 4
    assert out[0].pred_score.shape == (40, ) and out[0].pred_attributes.shape == (12, )
    maps = model.head.attribute_maps(model.extract_feat(
        model.data_preprocessor(dict(inputs=list(images)), False)['inputs']))
    assert maps.shape == (4, 12, 8, 8)


# ------------------------------------------------------------------ configs
def test_synthetic_configs_differ_from_the_baseline_only_in_the_head():
    base = Config.fromfile(str(REPO / 'configs/baseline_vit_synthetic.py'))
    cfg = Config.fromfile(str(REPO / 'configs/transzero/transzero_vit_synthetic.py'))
    assert cfg.model.backbone == base.model.backbone and cfg.model.type == base.model.type
    for key in ('train_cfg', 'optim_wrapper', 'train_dataloader', 'test_dataloader',
                'test_evaluator'):
        assert cfg[key] == base[key], key
    assert {k: v for k, v in cfg.default_hooks.items()} == dict(base.default_hooks)
    assert cfg.model.head.type == 'TransZeroHead'
    assert [s['type'] for s in cfg.data_preparation] == ['synthetic_zsl', 'attribute_embeddings']
    assert cfg.data_preparation[1]['out'] == cfg.model.head.word_vectors
    head = cfg.model.head
    # the released CUB setting (wandb_config/cub_gzsl.yaml)
    assert (head.embed_dims, head.feedforward_channels, head.dropout) == (300, 512, 0.4)
    assert head.self_calibration.loss_weight == 0.3
    assert head.attribute_regression.loss_weight == 0.005
    no_selfcal = Config.fromfile(
        str(REPO / 'configs/transzero/transzero_vit_synthetic_no_selfcal.py'))
    assert no_selfcal.model.head.self_calibration is None
    assert {k: v for k, v in no_selfcal.model.head.items() if k != 'self_calibration'} == \
        {k: v for k, v in head.items() if k != 'self_calibration'}
    inductive = Config.fromfile(
        str(REPO / 'configs/transzero/transzero_vit_synthetic_inductive.py'))
    assert inductive.model.head.self_calibration is None
    assert inductive.model.head.ce_classes == 'seen'
    pretrained = Config.fromfile(
        str(REPO / 'configs/transzero/transzero_vit_synthetic_pretrained.py'))
    base_pre = Config.fromfile(
        str(REPO / 'configs/pretrained/baseline_vit_synthetic_pretrained.py'))
    assert pretrained.model.backbone == base_pre.model.backbone
    assert pretrained.optim_wrapper == base_pre.optim_wrapper
    assert pretrained.data_preparation[0] == base_pre.data_preparation[0]


# published GZSL settings of shiming-chen/TransZero: K, C, d, FFN, dropout, self-attention,
# normalize_V, lambda, lambda_reg, epochs, optimizer (type, momentum), seed, clip negatives
PUBLISHED = {
    'cub': (312, 200, 300, 512, 0.4, True, False, 0.3, 0.005, 200, ('Adam', None), 5, False),
    'awa2': (85, 50, 300, 512, 0.5, True, True, 2.0, 5e-4, 200, ('SGD', 0.0), 17, True),
    'sun': (102, 717, 128, 2048, 0.3, False, False, 0.25, 1e-3, 400, ('SGD', 0.9), 6, False),
}


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_real_dataset_configs_carry_the_published_numbers(name, tmp_path):
    (k, c, dims, ffn, dropout, self_attn, norm_v, lam, reg, epochs, (opt_type, momentum),
     seed, clip) = PUBLISHED[name]
    cfg = Config.fromfile(str(REPO / f'configs/transzero/transzero_vit_{name}.py'))
    head = cfg.model.head
    assert (head.num_attributes, head.num_classes, head.embed_dims) == (k, c, dims)
    assert (head.feedforward_channels, head.dropout) == (ffn, dropout)
    assert head.decoder_self_attention is self_attn and head.normalize_word_vectors is norm_v
    assert head.get('clip_negative_attributes', False) is clip
    assert head.self_calibration.loss_weight == lam
    assert head.attribute_regression.loss_weight == reg
    assert (head.num_encoder_layers, head.num_decoder_layers, head.decoder_heads) == (1, 1, 1)
    assert (head.calibration_bias, head.bias_at_test, head.ce_classes) == (1.0, True, 'all')
    assert head.in_channels == 768
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == opt_type and opt.lr == 1e-4 and opt.weight_decay == 1e-4
    if momentum is not None:
        assert opt.momentum == momentum
    assert 'clip_grad' not in cfg.optim_wrapper
    # frozen backbone: phase 1 (head only, backbone at lr 0) is the whole run
    hook = cfg.default_hooks.two_phase_schedule
    assert hook.phase1_epochs == cfg.train_cfg.max_epochs == epochs and hook.phase1_lr == 1e-4
    assert cfg.model.backbone.drop_path_rate == 0.0
    assert cfg.train_dataloader.batch_size == 50 and cfg.randomness.seed == seed
    assert cfg.val_dataloader is None and cfg.test_dataloader.dataset.split == 'test'
    # builds without network: a zero word-vector file, the pretrained weights not loaded
    np.save(tmp_path / 'w.npy', np.zeros((k, 300), dtype=np.float32))
    head.word_vectors = str(tmp_path / 'w.npy')
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert model.backbone.grid_size == (14, 14)
    assert model.head.semantic_proj.shape == (300, dims)


def test_the_class_table_keeps_attribute_groups_as_every_head_does():
    """tools/calibrate.py prepare passes attribute_group_ids to the head of every config."""
    groups = [i % 2 for i in range(K)]
    head = _head(attribute_group_ids=groups)
    assert head.attribute_group_ids.tolist() == groups
