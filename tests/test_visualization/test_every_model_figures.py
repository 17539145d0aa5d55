"""Figures of ZSL models other than SVIP (mmpretrain's ImageClassifier + VisionTransformer with
the baseline's SemanticAttributeHead, APNHead or TransZeroHead), random weights: the ViT's
attention read by hooks against a computation by hand, the analysis against the model's own
prediction and attribute maps, and the panels a model cannot give left out with a reason."""
import math

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.models.utils import resize_pos_embed
from mmpretrain.registry import MODELS

import svip_mm  # noqa: F401
from svip_mm.models.heads import SemanticAttributeHead, ZSLHeadMixin
from svip_mm.models.necks import attention_rollout
from svip_mm.visualization import (analyse_image, attention_panel_labels, attention_unavailable,
                                   plot_image_summary, read_vit_attention, unavailable_lines)

K, C = 6, 10
HEADS = {
    'SemanticAttributeHead': dict(unit_size=2),
    'APNHead': dict(),
    'TransZeroHead': dict(word_vectors=np.random.default_rng(3).normal(size=(K, 10)),
                          embed_dims=16, feedforward_channels=32),
}


class NoMapsHead(SemanticAttributeHead):
    """A ZSL head without per-unit attribute maps (the interface's default, which raises)."""
    attribute_maps = ZSLHeadMixin.attribute_maps


MODELS.register_module(module=NoMapsHead, force=True)


def classifier(head: str, layers: int = 3, heads: int = 2, **backbone) -> torch.nn.Module:
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    bb = dict(type='VisionTransformer', arch=dict(embed_dims=32, num_layers=layers,
                                                  num_heads=heads, feedforward_channels=64),
              img_size=64, patch_size=8, out_type='featmap')
    bb.update(backbone)
    return MODELS.build(dict(
        type='ImageClassifier', backbone=bb,
        head=dict(type=head, num_attributes=K, in_channels=32, num_classes=C,
                  class_attributes=rng.random((C, K)), seen_classes=list(range(7)),
                  **HEADS.get(head, {})))).eval()


def attention_by_hand(backbone, x):
    """The ViT's forward written out: each layer's head-mean softmax(q k^T / sqrt(d)) from its
    ln1 and qkv weights."""
    maps = []
    with torch.no_grad():
        t, res = backbone.patch_embed(x)
        t = torch.cat([backbone.cls_token.expand(x.shape[0], -1, -1), t], dim=1)
        t = t + resize_pos_embed(backbone.pos_embed, backbone.patch_resolution, res,
                                 mode=backbone.interpolate_mode,
                                 num_extra_tokens=backbone.num_extra_tokens)
        t = backbone.pre_norm(t)
        for layer in backbone.layers:
            attn = layer.attn
            h = layer.ln1(t)
            w, b = attn.qkv.weight, attn.qkv.bias
            d = attn.head_dims
            q = torch.einsum('bnc,ec->bne', h, w[:attn.embed_dims]) + b[:attn.embed_dims]
            k = torch.einsum('bnc,ec->bne', h, w[attn.embed_dims:2 * attn.embed_dims]) + \
                b[attn.embed_dims:2 * attn.embed_dims]
            q = q.reshape(*q.shape[:2], attn.num_heads, d)
            k = k.reshape(*k.shape[:2], attn.num_heads, d)
            logits = torch.einsum('bqhd,bkhd->bhqk', q, k) / math.sqrt(d)
            maps.append(logits.softmax(-1).mean(1))
            t = layer(t)
    return maps


def test_vit_attention_read_by_hooks_equals_the_computation_by_hand():
    model = classifier('SemanticAttributeHead', layers=3, heads=4)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        plain = model.extract_feat(x)
        feats, maps = read_vit_attention(model, x)
    expected = attention_by_hand(model.backbone, x)
    assert len(maps) == 3
    for got, want in zip(maps, expected):
        assert got.shape == (2, 65, 65)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(got.sum(-1), torch.ones(2, 65))
    assert not torch.allclose(maps[0], maps[1])  # each layer its own map
    torch.testing.assert_close(feats[-1], plain[-1])  # the hooks only read
    assert all(not a.qkv._forward_hooks for a in (layer.attn for layer in model.backbone.layers))


@pytest.mark.parametrize('head', list(HEADS))
def test_analysis_of_an_image_classifier_is_the_models_own(head):
    model = classifier(head)
    x = torch.randn(1, 3, 64, 64)
    a = analyse_image(model, x, attribute_names=[f'att{i}' for i in range(K)])
    with torch.no_grad():
        sample = model.predict(x)[0]
        feats = model.extract_feat(x)
        att_maps = model.head.attribute_maps(feats)[0]
    np.testing.assert_allclose(a.class_scores, sample.pred_score.numpy(), atol=1e-6)
    np.testing.assert_allclose(a.attribute_scores, sample.pred_attributes.numpy(), atol=1e-6)
    grid = tuple(att_maps.shape[-2:])
    assert a.unit_grid == grid == ((4, 4) if head == 'SemanticAttributeHead' else (8, 8))
    np.testing.assert_allclose(a.unit_attribute_scores,
                               att_maps.reshape(K, -1).t().numpy(), atol=1e-6)
    assert a.patch_grid == (8, 8) and a.covered_hw == (64, 64)
    maps = attention_by_hand(model.backbone, x)
    np.testing.assert_allclose(a.layer_attention,
                               np.stack([m[0, 0, 1:].numpy() for m in maps]), atol=1e-5)
    np.testing.assert_allclose(a.aggregated_attention, attention_rollout(maps)[0].numpy(),
                               atol=1e-5)
    assert a.keep_mask is None and a.selector_prob is None
    assert a.panels == ['attention', 'attribute_localisation']
    assert a.unavailable == {'selection': f'ImageClassifier with {head} selects no patches '
                                          '(only SVIPClassifier has a patch selector)'}
    np.testing.assert_array_equal(a.unseen, np.arange(C) >= 7)
    fig = plot_image_summary(a, top_attributes=2)
    top = [f'attribute_{i}' for i in np.argsort(-a.attribute_scores, kind='stable')[:2]]
    assert [ax.get_label() for ax in fig.axes] == attention_panel_labels(3) + top
    assert [row.get_suptitle()[:3] for row in fig.subfigs] == ['1. ', '2. ']
    assert f'{head}.attribute_maps' in fig.subfigs[1].get_suptitle()
    assert fig.get_supxlabel() == unavailable_lines(a)[0]
    assert model.training is False


def test_panels_a_model_cannot_give_are_left_out_with_a_reason():
    # no CLS token: no CLS attention to draw; the head's maps still are
    model = classifier('APNHead', with_cls_token=False)
    assert 'no CLS token' in attention_unavailable(model.backbone)
    a = analyse_image(model, torch.randn(1, 3, 64, 64))
    assert a.panels == ['attribute_localisation'] and a.layer_attention is None
    assert 'no CLS token' in a.unavailable['attention']
    fig = plot_image_summary(a, top_attributes=2)
    assert len(fig.axes) == 2 and len(fig.subfigs) == 1
    assert fig.get_supxlabel().count('left out') == 2

    # a ZSL head without attribute maps: the attention only
    model = classifier('NoMapsHead')
    a = analyse_image(model, torch.randn(1, 3, 64, 64))
    assert a.panels == ['attention'] and a.unit_attribute_scores is None
    assert a.unavailable['attribute_localisation'] == ('NoMapsHead has no per-unit attribute '
                                                       'maps (attribute_maps)')
    fig = plot_image_summary(a, top_attributes=2)
    assert [ax.get_label() for ax in fig.axes] == attention_panel_labels(3)

    # neither: nothing to draw is one error naming every reason
    model = classifier('NoMapsHead', with_cls_token=False)
    a = analyse_image(model, torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='no panel to draw; attention maps left out: .*no CLS '
                       'token.*patch selection left out.*attribute localisation left out'):
        plot_image_summary(a)


def test_a_model_that_is_not_zero_shot_is_refused():
    init_default_scope('mmpretrain')
    model = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='VisionTransformer', arch='deit-tiny', img_size=32, patch_size=16),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=192)))
    with pytest.raises(TypeError, match='analyse_image needs a zero-shot model.*ImageClassifier '
                       'with LinearClsHead'):
        analyse_image(model, torch.randn(1, 3, 32, 32))
