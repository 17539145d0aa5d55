"""SemanticAttributeHead: pooling, similarity, seen-class targets, and the ViT baseline."""
import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import svip_mm  # noqa: F401  (registers the head)
from svip_mm.models.heads import SemanticAttributeHead, tokens_to_patch_grid

ATT = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]],
               dtype=np.float32)  # 4 classes x 3 attributes


def _head(**kw):
    args = dict(num_attributes=3, in_channels=2, num_classes=4, unit_size=1,
                class_attributes=ATT, seen_classes=[0, 1, 3])
    args.update(kw)
    return SemanticAttributeHead(**args)


def test_pooling_over_all_or_kept_units():
    head = _head()
    with torch.no_grad():
        head.fc.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        head.fc.bias.zero_()
    units = torch.tensor([[[1.0, 0.0], [0.0, 3.0], [5.0, 5.0]]])  # [B=1, U=3, 2]
    assert torch.allclose(head.attribute_scores(units), torch.tensor([[2.0, 8 / 3, 14 / 3]]))
    keep = torch.tensor([[True, True, False]])
    assert torch.allclose(head.attribute_scores(units, keep), torch.tensor([[0.5, 1.5, 2.0]]))
    head_max = _head(pooling='max')
    head_max.load_state_dict(head.state_dict())
    assert torch.allclose(head_max.attribute_scores(units, keep), torch.tensor([[1.0, 3.0, 3.0]]))


def test_class_logits_dot_and_cosine_against_normalised_class_vectors():
    head = _head()
    a = torch.tensor([[2.0, 0.0, 0.0]])
    norm = ATT / (np.linalg.norm(ATT, axis=1, keepdims=True) + 1e-5)
    expected_all = 5.0 * (a.numpy() @ norm.T)
    assert np.allclose(head.class_logits(a, 'all').numpy(), expected_all, atol=1e-5)
    assert np.allclose(head.class_logits(a, 'seen').numpy(), expected_all[:, [0, 1, 3]],
                       atol=1e-5)
    cos = _head(similarity='cosine')
    assert np.allclose(cos.class_logits(a, 'all').numpy(), 5.0 * (np.array([[1, 0, 0]]) @ norm.T),
                       atol=1e-5)


def test_seen_targets_and_unseen_training_labels():
    head = _head()
    samples = [DataSample().set_gt_label(i) for i in (3, 0, 1)]
    assert head.seen_targets(samples).tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match=r'unseen classes \[2\]'):
        head.seen_targets([DataSample().set_gt_label(2)])


def test_bad_class_tables():
    with pytest.raises(ValueError, match=r'shape \(4, 2\); expected .*\[4, 3\]'):
        _head(class_attributes=np.ones((4, 2)))
    with pytest.raises(ValueError, match='seen_classes must be distinct ids in 0..3'):
        _head(seen_classes=[0, 4])
    head = SemanticAttributeHead(num_attributes=3, in_channels=2, num_classes=4, unit_size=1)
    with pytest.raises(RuntimeError, match='never set'):
        head.class_logits(torch.zeros(1, 3))


def test_tokens_to_patch_grid_accepts_featmaps_and_tokens():
    fm = torch.randn(2, 8, 4, 4)
    patches, grid = tokens_to_patch_grid(fm)
    assert grid == (4, 4) and torch.equal(patches[:, 5], fm[:, :, 1, 1])
    tokens = torch.randn(2, 17, 8)
    assert torch.equal(tokens_to_patch_grid(tokens)[0], tokens[:, 1:])
    with pytest.raises(ValueError, match=r'square grid; got shape \(2, 7, 8\)'):
        tokens_to_patch_grid(torch.randn(2, 7, 8))


def test_head_behind_mmpretrain_image_classifier_and_vision_transformer():
    """The "ViT + attribute head" baseline: no SVIP component but the head."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = MODELS.build(dict(
        type='mmpretrain.ImageClassifier',
        backbone=dict(type='mmpretrain.VisionTransformer',
                      arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                                feedforward_channels=128),
                      img_size=32, patch_size=8, out_type='featmap'),
        head=dict(type='SemanticAttributeHead', num_attributes=5, in_channels=64,
                  num_classes=6, unit_size=2, class_attributes=rng.random((6, 5)),
                  seen_classes=[0, 1, 2, 3], attribute_group_ids=[0, 0, 1, 1, 1],
                  decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=0.3)),
        data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor')))
    images = torch.randn(3, 3, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in (0, 3, 2)]
    losses = model(images, samples, mode='loss')
    assert set(losses) == {'loss_ce', 'train_acc', 'loss_decorrelation'}
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert model.head.fc.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        preds = model(images, [DataSample() for _ in range(3)], mode='predict')
    assert preds[0].pred_score.shape == (6, ) and preds[0].pred_attributes.shape == (5, )
    assert torch.allclose(preds[0].pred_score.sum(), torch.tensor(1.0))


def test_the_seen_index_is_derived_when_the_table_is_set_and_never_saved():
    head = _head()
    assert head.seen_class_ids.tolist() == [0, 1, 3]
    assert head.seen_class_position.tolist() == [0, 1, -1, 2]
    # derived buffers stay out of checkpoints: the state dict has the saved table only
    assert set(head.state_dict()) == {'fc.weight', 'fc.bias', 'class_attributes', 'seen_mask',
                                      'attribute_group_ids'}
    other = _head(seen_classes=[2])
    head.load_state_dict(other.state_dict())
    assert head.class_logits(torch.ones(1, 3)).shape == (1, 1)
    assert head.seen_class_ids.tolist() == [2]



def test_tokens_to_patch_grid_with_an_explicit_prefix_count():
    tokens = torch.randn(2, 5 + 16, 8)  # e.g. CLS + 4 register tokens: no guess finds them
    patches, grid = tokens_to_patch_grid(tokens, num_prefix_tokens=5)
    assert grid == (4, 4) and torch.equal(patches, tokens[:, 5:])
    with pytest.raises(ValueError, match=r'\[B, \(5\+\) h\*w, C\]'):
        tokens_to_patch_grid(torch.randn(2, 17, 8), num_prefix_tokens=5)
    plain = torch.randn(2, 16, 8)
    assert torch.equal(tokens_to_patch_grid(plain, num_prefix_tokens=0)[0], plain)
    head = _head(num_prefix_tokens=5)
    assert head.unit_features(tokens[..., :2]).shape == (2, 16, 2)


def test_similarity_to_any_table_is_the_heads_own_scoring():
    a = torch.tensor([[2.0, -1.0, 0.5]])
    for sim in ('dot', 'cosine'):
        head = _head(similarity=sim)
        assert torch.equal(head.similarity_to(a, head.class_rows('all')),
                           head.similarity(a, 'all'))
        rows = torch.eye(3)  # another table: one class per attribute
        expected = a if sim == 'dot' else torch.nn.functional.normalize(a, dim=-1)
        assert torch.allclose(head.similarity_to(a, rows), expected)
