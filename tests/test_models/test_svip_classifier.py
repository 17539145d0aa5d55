"""SVIPClassifier: the two-pass step, prediction, and building from a config."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import svip_mm  # noqa: F401

K, C, SEEN = 6, 8, [0, 1, 2, 3, 4]


def tiny_svip_cfg(**neck_overrides):
    rng = np.random.default_rng(0)
    neck = dict(type='SemanticPatchSelector', in_channels=192, num_attributes=K, keep_k=12,
                word_vectors=rng.standard_normal((K, 50)).astype(np.float32))
    neck.update(neck_overrides)
    return dict(
        type='SVIPClassifier',
        backbone=dict(type='SVIPVisionTransformer', arch='tiny-cpu'),
        neck=neck,
        head=dict(type='SemanticAttributeHead', num_attributes=K, in_channels=192,
                  num_classes=C, class_attributes=rng.random((C, K)), seen_classes=SEEN,
                  attribute_group_ids=[0, 0, 1, 1, 2, 2],
                  decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=0.3)))


def _batch(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(b, 3, 64, 64, generator=g) * 255
    return images, [DataSample().set_gt_label(SEEN[i % len(SEEN)]) for i in range(b)]


def test_loss_returns_every_term_and_gradients_reach_every_module():
    torch.manual_seed(0)
    model = MODELS.build(tiny_svip_cfg())
    images, samples = _batch()
    data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), True)
    losses = model(**data, mode='loss')
    assert {'loss_selector', 'loss_ce_src', 'loss_ce_tgt', 'loss_consistency',
            'loss_decorrelation'} <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    params = dict(model.named_parameters())
    for name in ['neck.selector.0.weight', 'neck.v2p.weight', 'neck.p2t.weight', 'head.fc.weight',
                 'backbone.blocks.0.attn.qkv.weight', 'backbone.patch_embed.proj.weight',
                 'backbone.cls_token']:
        assert params[name].grad is not None and params[name].grad.abs().sum() > 0, name


def test_context_token_only_reaches_the_loss_through_the_target_pass():
    torch.manual_seed(0)
    model = MODELS.build(tiny_svip_cfg())
    images, samples = _batch()
    data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), True)
    losses = model(**data, mode='loss')
    losses['loss_ce_src'].backward()
    assert model.neck.v2p.weight.grad is None or model.neck.v2p.weight.grad.abs().sum() == 0
    assert model.neck.selector[0].weight.grad is None


def test_predict_is_deterministic_and_fills_each_sample():
    torch.manual_seed(0)
    model = MODELS.build(tiny_svip_cfg())
    model.eval()
    images, _ = _batch(b=2)
    data = model.data_preprocessor(dict(inputs=list(images),
                                        data_samples=[DataSample(), DataSample()]), False)
    with torch.no_grad():
        first = model(**data, mode='predict')
        second = model(**data, mode='predict')
        attrs = model(data['inputs'], mode='tensor')
    for a, b in zip(first, second):
        assert torch.equal(a.pred_score, b.pred_score)
    sample = first[0]
    assert sample.pred_score.shape == (C, ) and sample.pred_attributes.shape == (K, )
    assert sample.keep_mask.dtype == torch.bool and int(sample.keep_mask.sum()) == 12
    assert attrs.shape == (2, K) and torch.allclose(attrs[0], sample.pred_attributes)


def test_eval_units_kept_pools_only_the_kept_units():
    torch.manual_seed(0)
    cfg = tiny_svip_cfg()
    model_all = MODELS.build(cfg)
    cfg['head']['eval_units'] = 'kept'
    model_kept = MODELS.build(cfg)
    model_kept.load_state_dict(model_all.state_dict())
    model_all.eval(), model_kept.eval()
    images, _ = _batch(b=1)
    with torch.no_grad():
        a_all, keep = model_all.infer(images)
        a_kept, _ = model_kept.infer(images)
        patches, grid = model_all.backbone.embed(images)
        tokens, _ = model_all.backbone.encode(
            model_all.neck.contextualise(patches, keep, grid), grid)
        scores = model_all.head.fc(model_all._units(tokens, grid))
    assert torch.allclose(a_all, scores.mean(1), atol=1e-5)
    assert torch.allclose(a_kept, scores[keep].mean(0, keepdim=True), atol=1e-5)


def test_built_from_a_python_config_with_the_plugin_scope(tmp_path):
    np.save(tmp_path / 'w.npy', np.ones((K, 50), dtype=np.float32))
    np.save(tmp_path / 'att.npy', np.random.default_rng(0).random((C, K)))
    (tmp_path / 'cfg.py').write_text(f'''
default_scope = 'mmpretrain'
custom_imports = dict(imports=['svip_mm'], allow_failed_imports=False)
model = dict(
    type='SVIPClassifier',
    backbone=dict(type='SVIPVisionTransformer', arch='tiny-cpu'),
    neck=dict(type='SemanticPatchSelector', in_channels=192, num_attributes={K}, keep_k=12,
              word_vectors='{tmp_path}/w.npy', aggregation='paper'),
    head=dict(type='SemanticAttributeHead', num_attributes={K}, in_channels=192,
              num_classes={C}, class_attributes='{tmp_path}/att.npy', seen_classes={SEEN}),
    consistency=dict(type='SVIPConsistencyLoss', mode='jsd'),
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]))
''')
    cfg = Config.fromfile(str(tmp_path / 'cfg.py'))
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'SVIPClassifier'
    assert model.neck.aggregation == 'paper' and model.consistency.mode == 'jsd'
    for name in ['SVIPVisionTransformer', 'SemanticPatchSelector', 'SemanticAttributeHead',
                 'SVIPClassifier', 'SVIPConsistencyLoss', 'AttributeDecorrelationLoss',
                 'SVIPSelectorLoss']:
        assert MODELS.get(name) is not None, name


def test_mismatched_unit_sizes_are_an_error():
    cfg = tiny_svip_cfg()
    cfg['head']['unit_size'] = 1
    with pytest.raises(ValueError, match='neck unit_size=2 differs from head unit_size=1'):
        MODELS.build(cfg)


def test_predict_reports_selector_probabilities_and_attention_scores():
    torch.manual_seed(0)
    cfg = tiny_svip_cfg()
    cfg['predict_attention'] = True
    model = MODELS.build(cfg)
    model.eval()
    images, _ = _batch(b=2)
    with torch.no_grad():
        samples = model(images, [DataSample(), DataSample()], mode='predict')
        patches, grid = model.backbone.embed(images)
        logits = model.neck.selector_logits(patches, grid)
        _, maps = model.backbone.encode(patches, grid, return_attn=True)
        scores = model.neck.attention_unit_scores(maps, grid, model.backbone.num_heads)
    for i, sample in enumerate(samples):
        assert torch.allclose(sample.selector_prob, logits[i].sigmoid())
        # the kept units are the k least "unrelated" ones
        kept_max = sample.selector_prob[sample.keep_mask].max()
        dropped_min = sample.selector_prob[~sample.keep_mask].min()
        assert kept_max <= dropped_min
        assert torch.allclose(sample.attention_unit_scores, scores[i])


def _masked_batch(b=2):
    """Images with ground-truth masks: sample i's foreground is the top-left 16 x 16 pixels
    (unit 0 of the 4 x 4 unit grid) plus, for i = 1, two pixel rows of unit 5."""
    images, samples = _batch(b=b)
    for i, sample in enumerate(samples):
        mask = torch.zeros(64, 64, dtype=torch.bool)
        mask[:16, :16] = True
        if i == 1:
            mask[16:18, 16:32] = True  # 32 of 256 pixels: fraction 0.125 >= 0.1
        sample.set_field(mask, 'gt_fg_mask', field_type='data')
    return images, samples


def test_oracle_selection_keeps_the_foreground_units_in_training_and_prediction():
    torch.manual_seed(0)
    cfg = tiny_svip_cfg(keep_k=8)
    cfg['selection'] = 'oracle'
    model = MODELS.build(cfg)
    images, samples = _masked_batch()
    keep = model.oracle_keep(samples, (8, 8), torch.device('cpu'))
    expected = torch.zeros(2, 16, dtype=torch.bool)
    expected[:, 0] = True
    expected[1, 5] = True
    assert torch.equal(keep, expected)
    data = model.data_preprocessor(dict(inputs=list(images), data_samples=samples), True)
    losses = model(**data, mode='loss')
    # the selector learns the oracle labels: 1 = "unrelated" = not kept
    logits = model.neck.selector_logits(*model.backbone.embed(data['inputs']))
    assert torch.allclose(losses['loss_selector'],
                          model.neck.loss(logits, expected)['loss_selector'])
    model.eval()
    with torch.no_grad():
        out = model(data['inputs'], data['data_samples'], mode='predict')
    assert torch.equal(torch.stack([s.keep_mask for s in out]), expected)


def test_oracle_selection_without_masks_is_a_clear_error():
    cfg = tiny_svip_cfg()
    cfg['selection'] = 'oracle'
    model = MODELS.build(cfg)
    images, samples = _batch(b=2)
    with pytest.raises(ValueError, match="needs a ground-truth mask 'gt_fg_mask'.*"
                                         'LoadForegroundMask'):
        model(images, samples, mode='predict')
    with pytest.raises(ValueError, match="selection must be one of"):
        MODELS.build(dict(cfg, selection='gt'))


def test_the_head_is_told_the_backbones_prefix_tokens():
    model = MODELS.build(tiny_svip_cfg())
    assert model.head.num_prefix_tokens == model.backbone.num_prefix_tokens == 1
    cfg = tiny_svip_cfg()
    cfg['head'] = dict(cfg['head'], num_prefix_tokens=0)  # an explicit setting is kept
    assert MODELS.build(cfg).head.num_prefix_tokens == 0


def test_mismatched_attributes_and_widths_are_an_error():
    cfg = tiny_svip_cfg()
    cfg['neck'] = dict(cfg['neck'], num_attributes=K + 1,
                       word_vectors=np.ones((K + 1, 50), np.float32))
    with pytest.raises(ValueError, match=f'neck num_attributes={K + 1} differs from head '
                                         f'num_attributes={K}'):
        MODELS.build(cfg)
    cfg = tiny_svip_cfg()
    cfg['head'] = dict(cfg['head'], in_channels=96)
    with pytest.raises(ValueError, match='head in_channels=96 differs from the backbone width '
                                         'embed_dims=192'):
        MODELS.build(cfg)
    cfg = tiny_svip_cfg(in_channels=64)
    with pytest.raises(ValueError, match='neck in_channels=64 differs'):
        MODELS.build(cfg)
