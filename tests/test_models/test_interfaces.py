"""The written interfaces between the parts (docs/interfaces.md): every registered ZSL head
offers the ZSL head members with their shapes, and SVIPClassifier refuses, when it is built,
a backbone, neck or head that lacks a member of its interface."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import svip_mm  # noqa: F401  (registers the components)
from repo import REPO
from svip_mm.models.backbones import SVIPVisionTransformer
from svip_mm.models.classifiers import (SVIPBackbone, SVIPClassifier, SVIPHead,
                                        SVIPSelectorNeck, interface_members, missing_members)
from svip_mm.models.heads import ZSLHead, ZSLHeadMixin, has_attribute_maps

B, D, K, C, SEEN = 2, 8, 5, 7, [0, 1, 2, 4, 5]
GRID = (4, 4)
# constructor arguments beyond (num_attributes, in_channels, num_classes, class table) that a
# head needs to be built tiny; a newly registered head that needs some fails
# test_every_registered_zsl_head_builds_tiny until it is listed here
EXTRA = {
    'TransZeroHead': dict(word_vectors=np.random.default_rng(1).normal(size=(K, 6)),
                          embed_dims=12, feedforward_channels=16),
}


def _table():
    return np.random.default_rng(0).uniform(-0.2, 1.0, size=(C, K)).astype(np.float32)


def zsl_head_classes():
    """Every class registered in mmpretrain's MODELS that uses the ZSL head base."""
    classes = {cls for cls in MODELS.module_dict.values()
               if isinstance(cls, type) and issubclass(cls, ZSLHeadMixin)}
    return sorted(classes, key=lambda cls: cls.__name__)


HEADS = zsl_head_classes()


def build_head(cls, **kwargs):
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    args = dict(type=cls.__name__, num_attributes=K, in_channels=D, num_classes=C,
                class_attributes=_table(), seen_classes=SEEN)
    args.update(EXTRA.get(cls.__name__, {}))
    args.update(kwargs)
    return MODELS.build(args)


def _feats(layout='featmap', seed=0):
    g = torch.Generator().manual_seed(seed)
    feat = torch.randn(B, D, *GRID, generator=g)
    if layout == 'raw':  # a CLS token first, then the patch tokens in raster order
        feat = torch.cat([torch.randn(B, 1, D, generator=g), feat.flatten(2).transpose(1, 2)], 1)
    return (feat, )


def test_the_registry_holds_the_zsl_heads():
    names = {cls.__name__ for cls in HEADS}
    assert {'SemanticAttributeHead', 'APNHead', 'TransZeroHead'} <= names


@pytest.mark.parametrize('cls', HEADS, ids=lambda cls: cls.__name__)
def test_every_registered_zsl_head_builds_tiny(cls):
    head = build_head(cls)
    assert missing_members(head, ZSLHead) == []


@pytest.mark.parametrize('cls', HEADS, ids=lambda cls: cls.__name__)
def test_every_zsl_head_predicts_the_fields_with_their_shapes(cls):
    head = build_head(cls).eval()
    assert (head.num_classes, head.num_attributes) == (C, K)
    assert head.class_attributes.shape == (C, K) and head.class_attributes.dtype == torch.float32
    assert head.seen_mask.dtype == torch.bool and head.seen_mask.nonzero().flatten().tolist() \
        == SEEN
    torch.testing.assert_close(head.class_attributes, head.class_table_rows(_table()))
    given = [DataSample().set_gt_label(0) for _ in range(B)]
    with torch.no_grad():
        out = head.predict(_feats(), given)
    assert len(out) == B and all(a is b for a, b in zip(out, given))  # filled in place
    for sample in out:
        assert sample.pred_score.shape == (C, ) and sample.pred_score.dtype == torch.float32
        assert math.isclose(float(sample.pred_score.sum()), 1.0, rel_tol=1e-5)
        assert sample.pred_label.shape == (1, )
        assert int(sample.pred_label) == int(sample.pred_score.argmax())
        assert sample.pred_attributes.shape == (K, )
        assert sample.pred_attributes.dtype == torch.float32
        assert not sample.pred_attributes.requires_grad
    assert head.predict(_feats())[0].pred_score.shape == (C, )  # no samples given


@pytest.mark.parametrize('cls', HEADS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize('layout', ['featmap', 'raw'])
def test_attribute_maps_are_b_k_h_w_on_the_heads_grid(cls, layout):
    head = build_head(cls, num_prefix_tokens=1 if layout == 'raw' else None)
    assert has_attribute_maps(head)
    side = getattr(head, 'unit_size', 1) if cls.__name__ == 'SemanticAttributeHead' else 1
    with torch.no_grad():
        maps = head.attribute_maps(_feats(layout))
    assert maps.shape == (B, K, GRID[0] // side, GRID[1] // side)
    assert torch.isfinite(maps).all()


def test_attribute_maps_are_what_each_head_pools():
    """The maps are the per-unit scores the head pools into its attributes: a map that
    were transposed or taken from another branch fails here."""
    feats = _feats()
    with torch.no_grad():
        head = build_head(svip_mm.models.heads.SemanticAttributeHead)  # mean pooling
        torch.testing.assert_close(head.attribute_maps(feats).mean((2, 3)), head(feats))
        head = build_head(svip_mm.models.heads.SemanticAttributeHead, unit_size=1,
                          pooling='max')
        maps = head.attribute_maps(feats)
        torch.testing.assert_close(maps.amax((2, 3)), head(feats))
        # cell (i, j) is patch (i, j): the score of that patch token alone
        patch = feats[0][:, :, 1, 2]  # [B, D]
        torch.testing.assert_close(maps[:, :, 1, 2], head.fc(patch))
        apn = build_head(svip_mm.models.heads.APNHead, global_pooling='max')
        torch.testing.assert_close(apn.attribute_maps(feats, branch='global').amax((2, 3)),
                                   apn(feats))  # a_glob
        torch.testing.assert_close(apn.attribute_maps(feats)[:, :, 1, 2],
                                   patch @ apn.local_prototypes.t())  # local by default
    transzero = build_head(svip_mm.models.heads.TransZeroHead)
    maps = transzero.attribute_maps(feats)
    torch.testing.assert_close(maps.sum((2, 3)), torch.ones(B, K))
    _, _, weights = transzero.eval().transformer(feats, need_weights=True)  # [B, K, N]
    torch.testing.assert_close(maps.flatten(2), weights)


def test_a_head_without_maps_says_so():
    class NoMaps(ZSLHeadMixin, nn.Module):
        def predict(self, feats, data_samples=None):
            return []

        def score_classes(self, attributes, rows):
            return attributes @ rows.t()

    head = NoMaps()
    assert not has_attribute_maps(head)
    with pytest.raises(NotImplementedError, match='NoMaps has no per-unit attribute maps'):
        head.attribute_maps(_feats())


def test_a_head_must_implement_predict_and_score_classes():
    from mmpretrain.models.heads import ClsHead

    class NoScores(ZSLHeadMixin, ClsHead):
        def predict(self, feats, data_samples=None):
            return []

    with pytest.raises(TypeError, match='score_classes'):
        NoScores()


def _pred(head, feats):
    with torch.no_grad():
        out = head.eval().predict(feats)
    return torch.stack([s.pred_attributes for s in out]), torch.stack([s.pred_score for s in out])


@pytest.mark.parametrize('cls', HEADS, ids=lambda cls: cls.__name__)
def test_score_classes_reproduces_pred_score_on_the_heads_own_table(cls):
    """pred_score == softmax(score_classes(pred_attributes, class_attributes) + bias)."""
    head = build_head(cls)
    attributes, scores = _pred(head, _feats())
    rows = head.class_attributes
    logits = head.score_classes(attributes, rows)
    assert logits.shape == (B, C)
    bias = head.prediction_bias()
    if bias is not None:
        assert bias.shape == (C, )
        logits = logits + bias
    torch.testing.assert_close(F.softmax(logits.float(), dim=1), scores)
    # any other table: here, some of the head's own rows in another order
    subset = [4, 0, 6]
    torch.testing.assert_close(head.score_classes(attributes, rows[subset]),
                               head.score_classes(attributes, rows)[:, subset])
    raw = _table()[subset] * 3.0  # rows are normalised by class_table_rows, not by the caller
    torch.testing.assert_close(head.class_table_rows(raw), rows[subset])


def test_transzero_bias_at_test_is_prediction_bias_and_cancels_on_a_one_status_table():
    feats = _feats()
    plain = build_head(svip_mm.models.heads.TransZeroHead, bias_at_test=False,
                       calibration_bias=0.7)
    biased = build_head(svip_mm.models.heads.TransZeroHead, calibration_bias=0.7)
    biased.load_state_dict(plain.state_dict())
    assert plain.prediction_bias() is None
    unseen = [c for c in range(C) if c not in SEEN]
    expected = torch.full((C, ), -0.7)
    expected[unseen] = 0.7
    torch.testing.assert_close(biased.prediction_bias(), expected)
    attributes, scores = _pred(biased, feats)
    attributes_plain, scores_plain = _pred(plain, feats)
    torch.testing.assert_close(attributes, attributes_plain)
    logits = biased.score_classes(attributes, biased.class_attributes)
    # the bias matters on the head's own table (seen and unseen classes) ...
    assert not torch.allclose(F.softmax(logits, 1), scores)
    torch.testing.assert_close(F.softmax(logits, 1), scores_plain)
    # ... and cancels on a table of unseen classes only (the same +beta on every row)
    rows = biased.class_attributes[unseen]
    torch.testing.assert_close(F.softmax(biased.score_classes(attributes, rows), 1),
                               F.softmax((logits + biased.prediction_bias())[:, unseen], 1))


def test_transzero_class_table_rows_clip_as_its_own_table():
    head = build_head(svip_mm.models.heads.TransZeroHead, clip_negative_attributes=True)
    table = _table()
    assert (table < 0).any()
    torch.testing.assert_close(head.class_table_rows(table), head.class_attributes)
    assert (head.class_table_rows(table) >= 0).all()


# ------------------------------------------------------------------ SVIPClassifier's parts
SVIP_K, SVIP_C, WIDTH = 4, 6, 16


def _backbone():
    return SVIPVisionTransformer(arch=dict(embed_dims=WIDTH, num_layers=1, num_heads=2,
                                           patch_size=8, img_size=32))


def _neck():
    init_default_scope('mmpretrain')
    return MODELS.build(dict(type='SemanticPatchSelector', in_channels=WIDTH,
                             num_attributes=SVIP_K, keep_k=2, context_init='random',
                             hidden_channels=8))


def _head():
    init_default_scope('mmpretrain')
    return MODELS.build(dict(type='SemanticAttributeHead', num_attributes=SVIP_K,
                             in_channels=WIDTH, num_classes=SVIP_C,
                             class_attributes=np.eye(SVIP_C, SVIP_K), seen_classes=[0, 1, 2]))


def _parts(**replace):
    parts = dict(backbone=_backbone(), neck=_neck(), head=_head())
    parts.update(replace)
    return parts


def test_real_parts_offer_their_interfaces_and_build():
    parts = _parts()
    for (role, part), interface in zip(parts.items(), (SVIPBackbone, SVIPSelectorNeck, SVIPHead)):
        assert missing_members(part, interface) == [], role
    model = SVIPClassifier(**parts)
    assert model.head is parts['head']  # built modules are taken as they are
    model.eval()
    with torch.no_grad():
        out = model.predict(torch.rand(1, 3, 32, 32) * 255)
    assert out[0].keep_mask.shape == (4, )


def _fake(interface, without):
    """An nn.Module class with every member of ``interface`` but ``without``: attributes
    set to 1 (or a tensor), methods the protocol's own (so their signatures match)."""
    namespace = {}
    for name, signature in interface_members(interface).items():
        if name == without:
            continue
        if signature is None:
            namespace[name] = torch.zeros(1) if name in ('class_attributes', 'seen_mask') else 1
        else:
            for cls in interface.__mro__:
                if name in cls.__dict__:
                    namespace[name] = cls.__dict__[name]
                    break
    return type(f'{interface.__name__}Without_{without}', (nn.Module, ), namespace)


CASES = [(role, interface, member)
         for role, interface in (('backbone', SVIPBackbone), ('neck', SVIPSelectorNeck),
                                 ('head', SVIPHead))
         for member in interface_members(interface)]


@pytest.mark.parametrize('role,interface,member', CASES,
                         ids=[f'{role}-{member}' for role, _, member in CASES])
def test_a_part_lacking_a_member_fails_when_the_model_is_built(role, interface, member):
    complete = _fake(interface, without=None)()
    assert missing_members(complete, interface) == []  # the fake itself is complete
    part = _fake(interface, without=member)()
    assert missing_members(part, interface) == [member]
    with pytest.raises(TypeError) as error:
        SVIPClassifier(**_parts(**{role: part}))
    message = str(error.value)
    assert message.startswith(f'SVIPClassifier: the {role} {type(part).__name__} ')
    assert f'{interface.__name__} interface (docs/interfaces.md): missing {member}' in message


def test_the_check_runs_through_the_registry_too():
    cfg = dict(type='SVIPClassifier',
               backbone=dict(type='mmpretrain.VisionTransformer',
                             arch=dict(embed_dims=WIDTH, num_layers=1, num_heads=2,
                                       feedforward_channels=32),
                             img_size=32, patch_size=8),
               neck=dict(type='SemanticPatchSelector', in_channels=WIDTH,
                         num_attributes=SVIP_K, keep_k=2, context_init='random'),
               head=dict(type='SemanticAttributeHead', num_attributes=SVIP_K,
                         in_channels=WIDTH, num_classes=SVIP_C))
    init_default_scope('mmpretrain')
    with pytest.raises(TypeError, match=r'the backbone VisionTransformer does not offer the '
                       r'SVIPBackbone interface .*missing num_heads, '
                       r'num_prefix_tokens, patch_size, embed, encode'):
        MODELS.build(cfg)


def test_a_zsl_head_that_does_not_score_units_is_no_svip_head():
    apn = build_head(svip_mm.models.heads.APNHead, in_channels=WIDTH)
    assert missing_members(apn, ZSLHead) == []
    with pytest.raises(TypeError, match=r'the head APNHead does not offer the SVIPHead '
                       r'interface .*missing unit_size, eval_units, attribute_scores, '
                       r'attribute_losses, similarity, predictions'):
        SVIPClassifier(**_parts(head=apn))


def test_a_method_that_does_not_take_the_call_is_named_with_both_signatures():
    class NoAttention(SVIPVisionTransformer):
        def encode(self, patches, grid):  # the source pass needs return_attn=True
            return super().encode(patches, grid)

    backbone = NoAttention(arch=dict(embed_dims=WIDTH, num_layers=1, num_heads=2,
                                     patch_size=8, img_size=32))
    with pytest.raises(TypeError, match=re_escape(
            'the backbone NoAttention does not offer the SVIPBackbone interface '
            '(docs/interfaces.md): missing encode(patches, grid, *, return_attn=False) '
            '(has encode(patches, grid))')):
        SVIPClassifier(**_parts(backbone=backbone))


def re_escape(text):
    import re
    return re.escape(text)


def _svip_configs():
    paths = []
    for path in sorted((REPO / 'configs').rglob('*.py')):
        if '_base_' in path.parts or 'experiments' in path.parts:
            continue
        if Config.fromfile(str(path)).model.get('type') == 'SVIPClassifier':
            paths.append(path)
    return paths


def test_the_svip_configs_still_build(tmp_path):
    paths = _svip_configs()
    assert len(paths) >= 4 and REPO / 'configs/svip_vit_cub.py' in paths
    init_default_scope('mmpretrain')
    for path in paths:
        cfg = Config.fromfile(str(path))
        neck = cfg.model.neck
        if neck.get('word_vectors') is not None:
            words = tmp_path / f'{Path(path).stem}.npy'
            np.save(words, np.zeros((neck.num_attributes, 50), dtype=np.float32))
            neck.word_vectors = str(words)
        model = MODELS.build(cfg.model)
        assert isinstance(model, SVIPClassifier), path
