"""APNHead and its losses (docs/apn.md): output shapes for featmap and raw ViT output, every
loss term against numbers computed here by hand or with plain numpy, the head behind
mmpretrain's ImageClassifier + VisionTransformer through one training and one test step, and
the CUB / AwA2 / SUN configs with the released hyperparameters."""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import svip_mm  # noqa: F401
from svip_mm.models.heads import APNHead
from svip_mm.models.losses import AttributeCompactnessLoss, PrototypeDecorrelationLoss

from repo import REPO

# a tiny class table: 5 classes (0, 2, 3 seen), 4 attributes in groups {0, 1}, {2}, none
ATT = np.array([[1.0, 0.0, 2.0, 0.0],
                [0.0, 1.0, 0.0, 1.0],
                [3.0, 4.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 1.0],
                [1.0, 1.0, 1.0, 1.0]], dtype=np.float32)
SEEN = [0, 2, 3]
GROUPS = [0, 0, 1, -1]
K, D, C = 4, 3, 5


def np_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def make_head(**kwargs):
    init_default_scope('mmpretrain')
    args = dict(type='APNHead', num_attributes=K, in_channels=D, num_classes=C,
                class_attributes=ATT, seen_classes=SEEN, attribute_group_ids=GROUPS)
    args.update(kwargs)
    return MODELS.build(args)


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


# ------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize('form', ['featmap', 'raw', 'raw_guessed'])
def test_every_output_has_its_shape(form):
    torch.manual_seed(0)
    b, h, w = 2, 3, 4
    n = h * w
    head = make_head(num_prefix_tokens=None if form != 'raw' else 1)
    tokens = torch.randn(b, n, D)
    if form == 'featmap':
        feat = tokens.transpose(1, 2).reshape(b, D, h, w)
    else:  # a CLS token first, then the patch tokens (a 3 x 4 grid is not square: use 4 x 4)
        h = w = 4
        n = h * w
        tokens = torch.randn(b, n, D)
        feat = torch.cat([torch.randn(b, 1, D), tokens], dim=1)
    feats = (feat, )
    out = head.branch_outputs(feats)
    assert out['grid'] == (h, w)
    for branch in ('global', 'local'):
        assert out[f'{branch}_maps'].shape == (b, n, K)
        assert out[f'{branch}_attributes'].shape == (b, K)
        assert head.attribute_maps(feats, branch).shape == (b, K, h, w)
        # the [B, K, h, w] maps are the branch's [B, N, K] maps on the patch grid
        torch.testing.assert_close(head.attribute_maps(feats, branch).flatten(2).transpose(1, 2),
                                   out[f'{branch}_maps'])
    torch.testing.assert_close(head.attribute_maps(feats),
                               (tokens @ head.local_prototypes.t()).transpose(1, 2)
                               .reshape(b, K, h, w))
    assert head(feats).shape == (b, K)
    assert head.class_logits(out['global_attributes'], 'seen').shape == (b, len(SEEN))
    assert head.class_logits(out['global_attributes'], 'all').shape == (b, C)
    losses = head.loss(feats, samples([0, 3]))
    assert set(losses) == {'loss_ce_global', 'loss_ce_local', 'loss_regression_global',
                           'loss_regression_local', 'loss_decorrelation_global',
                           'loss_decorrelation_local', 'loss_compactness', 'train_acc'}
    assert all(v.shape == () and torch.isfinite(v) for v in losses.values())
    preds = head.predict(feats)
    assert len(preds) == b
    for p in preds:
        assert p.pred_score.shape == (C, ) and p.pred_label.shape == (1, )
        assert p.pred_attributes.shape == (K, )
        assert float(p.pred_score.sum()) == pytest.approx(1.0, abs=1e-6)


def test_featmap_and_raw_inputs_give_the_same_outputs():
    torch.manual_seed(1)
    head = make_head(num_prefix_tokens=1)
    tokens = torch.randn(2, 9, D)
    featmap = tokens.transpose(1, 2).reshape(2, D, 3, 3)
    raw = torch.cat([torch.randn(2, 1, D), tokens], dim=1)
    a, r = head.branch_outputs((featmap, )), head.branch_outputs((raw, ))
    for key in ('global_maps', 'local_maps', 'global_attributes', 'local_attributes'):
        torch.testing.assert_close(a[key], r[key])


def test_wrong_token_width_and_bad_choices_are_named():
    head = make_head()
    with pytest.raises(ValueError, match='in_channels = 3'):
        head.branch_outputs((torch.randn(1, 5, 2, 2), ))
    for arg, bad in (('global_pooling', 'avg'), ('local_pooling', 'sum'), ('ce_form', 'x')):
        with pytest.raises(ValueError, match=arg):
            make_head(**{arg: bad})
    with pytest.raises(ValueError, match='branch'):
        head.prototypes('middle')


# --------------------------------------------------------------------- the head by hand
def _head_with(x, w, p, **kwargs):
    head = make_head(**kwargs)
    with torch.no_grad():
        head.global_prototypes.copy_(torch.as_tensor(w))
        head.local_prototypes.copy_(torch.as_tensor(p))
    feat = torch.as_tensor(x).transpose(1, 2).reshape(x.shape[0], D, 2, 2)  # 2 x 2 grid
    return head, (feat, )


RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 4, D)).astype(np.float32)  # 3 images, 4 patches
W = RNG.normal(size=(K, D)).astype(np.float32)
P = RNG.normal(size=(K, D)).astype(np.float32)
LABELS = [3, 0, 2]  # global ids; seen positions 2, 0, 1
A_NORM = ATT / (np.linalg.norm(ATT, axis=1, keepdims=True) + 1e-5)


@pytest.mark.parametrize('pooling', ['max', 'mean'])
def test_branches_and_class_scores_match_numpy(pooling):
    head, feats = _head_with(X, W, P, global_pooling=pooling, scale=2.0)
    out = head.branch_outputs(feats)
    maps_w, maps_p = X @ W.T, X @ P.T  # [B, N, K]
    a_glob = maps_w.max(1) if pooling == 'max' else maps_w.mean(1)
    a_loc = maps_p.max(1)
    np.testing.assert_allclose(out['global_maps'].detach().numpy(), maps_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out['local_maps'].detach().numpy(), maps_p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out['global_attributes'].detach().numpy(), a_glob, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(out['local_attributes'].detach().numpy(), a_loc, rtol=1e-5,
                               atol=1e-6)
    # inference: the global branch against all classes, softmax
    preds = head.predict(feats)
    expected = np_softmax(2.0 * a_glob @ A_NORM.T)
    np.testing.assert_allclose(np.stack([p.pred_score.detach().numpy() for p in preds]),
                               expected, rtol=1e-5, atol=1e-6)
    assert [int(p.pred_label) for p in preds] == expected.argmax(1).tolist()


@pytest.mark.parametrize('ce_form', ['logits', 'softmax_twice'])
def test_every_loss_term_matches_a_hand_computation(ce_form):
    weights = dict(global_ce_weight=0.5, local_ce_weight=2.0)
    head, feats = _head_with(
        X, W, P, ce_form=ce_form, **weights,
        global_regression=dict(type='AttributeRegressionLoss', loss_weight=0.3),
        local_regression=dict(type='AttributeRegressionLoss', loss_weight=0.7),
        global_decorrelation=dict(type='PrototypeDecorrelationLoss', loss_weight=0.11),
        local_decorrelation=dict(type='PrototypeDecorrelationLoss', loss_weight=0.13),
        compactness=dict(type='AttributeCompactnessLoss', loss_weight=0.017))
    losses = head.loss(feats, samples(LABELS))
    a = dict(global_=(X @ W.T).max(1), local=(X @ P.T).max(1))
    seen_rows = A_NORM[SEEN]  # [S, K]
    target = np.array([SEEN.index(y) for y in LABELS])
    expected = {}
    for branch, key, weight, reg_w in (('global', 'global_', 0.5, 0.3),
                                       ('local', 'local', 2.0, 0.7)):
        scores = a[key] @ seen_rows.T
        if ce_form == 'softmax_twice':
            scores = np_softmax(scores)
        ce = -np.log(np_softmax(scores)[np.arange(3), target]).mean()
        expected[f'loss_ce_{branch}'] = weight * ce
        expected[f'loss_regression_{branch}'] = reg_w * ((a[key] - A_NORM[LABELS]) ** 2).mean()
    # groups {0, 1} and {2}; attribute 3 is in none. Released norm: whole group, eps 1e-8 per
    # channel under the root
    for branch, v, w in (('global', W, 0.11), ('local', P, 0.13)):
        norm = sum(math.sqrt((v[rows] ** 2).sum() + D * 1e-8) for rows in ([0, 1], [2]))
        expected[f'loss_decorrelation_{branch}'] = w * norm
    # compactness on the local maps over the 2 x 2 grid (raster: (0,0) (0,1) (1,0) (1,1))
    coords = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    maps = X @ P.T
    total = 0.0
    for b in range(3):
        for k in range(K):
            peak = coords[maps[b, :, k].argmax()]
            dist = ((coords - peak) ** 2).sum(1)
            total += (dist / (1 + np.exp(-maps[b, :, k]))).sum()
    expected['loss_compactness'] = 0.017 * total
    assert set(expected) | {'train_acc'} == set(losses)
    for key, value in expected.items():
        assert float(losses[key].detach()) == pytest.approx(value, rel=1e-5), key


def test_a_zero_weight_drops_its_term_and_unseen_labels_are_refused():
    head, feats = _head_with(
        X, W, P, local_ce_weight=0.0,
        compactness=dict(type='AttributeCompactnessLoss', loss_weight=0.0))
    losses = head.loss(feats, samples(LABELS))
    assert 'loss_ce_local' not in losses and 'loss_compactness' not in losses
    assert 'loss_ce_global' in losses
    with pytest.raises(ValueError, match='unseen classes'):
        head.loss(feats, samples([1, 0, 2]))


# ------------------------------------------------------------------------ the losses
V = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])


@pytest.mark.parametrize('ids, norm, grouping, expected', [
    # groups {0, 1}, {2}: whole-group norms sqrt(9 + 16 + 1 + 0) and sqrt(0 + 4)
    ([0, 0, 1], 'group', 'groups', math.sqrt(26) + 2),
    # per channel: group {0, 1} sqrt(9 + 1) + sqrt(16 + 0); group {2}: 0 + 2
    ([0, 0, 1], 'channel', 'groups', math.sqrt(10) + 4 + 2),
    # attribute 2 in no group
    ([0, 0, -1], 'group', 'groups', math.sqrt(26)),
    # group ids in any order: {0, 2} and {1}
    ([1, 0, 1], 'group', 'groups', math.sqrt(9 + 16 + 4) + 1),
    # one group of all, whatever the ids: the Frobenius norm sqrt(30)
    ([0, 1, -1], 'group', 'whole', math.sqrt(30)),
    ([0, 1, -1], 'channel', 'whole', math.sqrt(10) + math.sqrt(20)),
    # no group at all: nothing to decorrelate
    ([-1, -1, -1], 'group', 'groups', 0.0),
])
def test_prototype_decorrelation_by_hand(ids, norm, grouping, expected):
    loss = PrototypeDecorrelationLoss(loss_weight=2.0, norm=norm, grouping=grouping, eps=0.0)
    assert float(loss(V, torch.tensor(ids))) == pytest.approx(2.0 * expected, rel=1e-6)


def test_prototype_decorrelation_is_the_released_group_norm_with_its_eps():
    """sqrt(sum over channels of (sum over the group's rows of v^2 + 1e-8)), summed over
    groups: the released add_glasso, written here in numpy."""
    rng = np.random.default_rng(3)
    v = rng.normal(scale=1e-3, size=(7, 5))
    ids = np.array([2, 0, 2, 1, 0, -1, 1])
    expected = sum(np.sqrt(((v[ids == g] ** 2).sum(0) + 1e-8).sum()) for g in (0, 1, 2))
    got = PrototypeDecorrelationLoss(loss_weight=1.0)(torch.tensor(v), torch.tensor(ids))
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_prototype_decorrelation_refuses_bad_arguments():
    with pytest.raises(ValueError, match='norm'):
        PrototypeDecorrelationLoss(norm='l1')
    with pytest.raises(ValueError, match='grouping'):
        PrototypeDecorrelationLoss(grouping='none')
    with pytest.raises(ValueError, match=r'group_ids must be \[K\] = \[3\]'):
        PrototypeDecorrelationLoss()(V, torch.tensor([0, 1]))


def test_compactness_by_hand():
    # one image, one attribute, a 2 x 3 grid; the peak 5 is at (0, 2)
    maps = torch.tensor([[0.0, 1.0, 5.0], [2.0, 0.0, -1.0]]).reshape(1, 6, 1)
    # squared distances from (0, 2): (0,0) 4, (0,1) 1, (0,2) 0, (1,0) 5, (1,1) 2, (1,2) 1
    raw = AttributeCompactnessLoss(loss_weight=3.0, activation='none')
    assert float(raw(maps, (2, 3))) == pytest.approx(3.0 * (1 * 1 + 2 * 5 - 1 * 1))
    dist = np.array([4, 1, 0, 5, 2, 1], dtype=np.float64)
    sig = 1 / (1 + np.exp(-maps.flatten().numpy().astype(np.float64)))
    expected = (sig * dist).sum()
    assert float(AttributeCompactnessLoss(loss_weight=1.0)(maps, (2, 3))) == \
        pytest.approx(expected, rel=1e-6)
    # two images: the released sum over the batch, or the mean over images
    two = torch.cat([maps, maps.flip(1)])  # the second map's peak is at (1, 0)
    dist_flipped = np.array([1, 2, 5, 0, 1, 4], dtype=np.float64)
    total = expected + (sig[::-1] * dist_flipped).sum()
    assert float(AttributeCompactnessLoss()(two, (2, 3))) == pytest.approx(total, rel=1e-6)
    assert float(AttributeCompactnessLoss(reduction='mean')(two, (2, 3))) == \
        pytest.approx(total / 2, rel=1e-6)
    with pytest.raises(ValueError, match=r'N = h \* w = 4'):
        AttributeCompactnessLoss()(maps, (2, 2))
    with pytest.raises(ValueError, match='activation'):
        AttributeCompactnessLoss(activation='relu')


# ---------------------------------- behind mmpretrain's ImageClassifier + VisionTransformer
TINY_ARCH = dict(embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64)


@pytest.fixture(scope='module')
def synthetic_run(tmp_path_factory):
    """configs/apn/apn_vit_synthetic.py with a 1-layer 32-d ViT on 3 images per class: the
    runner built, one training epoch (phase 1 of the two-phase schedule) and one test batch."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from svip_mm.engine import prepare_data
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp('apn')
    cfg = Config.fromfile(str(REPO / 'configs/apn/apn_vit_synthetic.py'))
    for loader in ('train_dataloader', 'test_dataloader'):
        cfg[loader].update(batch_size=32, num_workers=0, persistent_workers=False)
        cfg[loader].dataset.update(data_root=str(base / 'data'),
                                   generator_overrides=dict(images_per_class=3))
    cfg.model.backbone.arch = TINY_ARCH
    cfg.model.head.in_channels = TINY_ARCH['embed_dims']
    cfg.train_cfg.max_epochs = 1
    cfg.work_dir = str(base / 'work')
    cfg.randomness = dict(seed=0)
    prepare_data(cfg)
    runner = Runner.from_cfg(copy.deepcopy(cfg))

    class Snapshot(Hook):
        """The weights at the start of the epoch (after the runner's weight init)."""
        def before_train_epoch(self, runner):
            self.state = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}

    snapshot = Snapshot()
    runner.register_hook(snapshot, priority='LOWEST')
    runner.train()
    before = snapshot.state
    model = runner.model
    model.eval()
    dataset = runner.test_dataloader.dataset
    seen = [i for i in range(len(dataset)) if not dataset.get_data_info(i)['is_unseen']][:3]
    unseen = [i for i in range(len(dataset)) if dataset.get_data_info(i)['is_unseen']][:3]
    batch = runner.test_dataloader.collate_fn([dataset[i] for i in seen + unseen])
    with torch.no_grad():
        predicted = model.test_step(batch)
    return dict(runner=runner, before=before, predicted=predicted, meta=dataset.metainfo)


def test_the_synthetic_config_is_the_baseline_with_apns_head():
    cfg = Config.fromfile(str(REPO / 'configs/apn/apn_vit_synthetic.py'))
    baseline = Config.fromfile(str(REPO / 'configs/baseline_vit_synthetic.py'))
    assert cfg.model.backbone == baseline.model.backbone and cfg.model.type == 'ImageClassifier'
    assert cfg.train_cfg == baseline.train_cfg and cfg.optim_wrapper == baseline.optim_wrapper
    assert cfg.default_hooks == baseline.default_hooks
    assert cfg.train_dataloader == baseline.train_dataloader
    assert cfg.test_evaluator == baseline.test_evaluator
    head = cfg.model.head
    assert head.type == 'APNHead' and 'unit_size' not in head
    # the released CUB GZSL weights (script/CUB_GZSL.sh)
    assert (head.global_regression.loss_weight, head.local_regression.loss_weight) == \
        (1e-2, 1e-1)
    assert (head.global_decorrelation.loss_weight, head.local_decorrelation.loss_weight) == \
        (5e-5, 4e-2)
    assert head.compactness.loss_weight == 1e-9
    pretrained = Config.fromfile(str(REPO / 'configs/apn/apn_vit_synthetic_pretrained.py'))
    reference = Config.fromfile(
        str(REPO / 'configs/pretrained/baseline_vit_synthetic_pretrained.py'))
    assert pretrained.data_preparation == reference.data_preparation
    assert pretrained.model.backbone == reference.model.backbone
    assert pretrained.optim_wrapper == reference.optim_wrapper
    assert pretrained.model.head == cfg.model.head


def test_one_training_epoch_moves_the_prototypes_and_not_the_vit(synthetic_run):
    runner, before = synthetic_run['runner'], synthetic_run['before']
    head = runner.model.head
    assert isinstance(head, APNHead)
    after = runner.model.state_dict()
    # phase 1 of the two-phase schedule: the head's parameters alone
    for name in ('head.global_prototypes', 'head.local_prototypes'):
        assert not torch.equal(before[name], after[name]), name
    backbone = [k for k in before if k.startswith('backbone.')]
    assert backbone and all(torch.equal(before[k], after[k]) for k in backbone)
    # the class-table hook filled the head: 30 seen of 40, 12 attributes in 4 groups
    assert int(head.seen_mask.sum()) == 30
    assert sorted(set(head.attribute_group_ids.tolist())) == [0, 1, 2, 3]


def test_one_training_step_gives_every_term(synthetic_run):
    runner = synthetic_run['runner']
    model = runner.model
    model.train()
    batch = next(iter(runner.train_dataloader))
    losses = model.train_step(batch, runner.optim_wrapper)
    model.eval()
    for key in ('loss_ce_global', 'loss_ce_local', 'loss_regression_global',
                'loss_regression_local', 'loss_decorrelation_global',
                'loss_decorrelation_local', 'loss_compactness'):
        assert key in losses and torch.isfinite(losses[key]), key
    assert torch.isfinite(losses['loss'])


def test_one_test_step_predicts_over_all_classes(synthetic_run):
    predicted, meta = synthetic_run['predicted'], synthetic_run['meta']
    assert len(predicted) == 6
    assert [bool(s.is_unseen) for s in predicted] == [False] * 3 + [True] * 3
    for sample in predicted:
        assert sample.pred_score.shape == (40, )
        assert float(sample.pred_score.sum()) == pytest.approx(1.0, abs=1e-5)
        assert sample.pred_attributes.shape == (12, )
        assert int(sample.pred_label) == int(sample.pred_score.argmax())
    assert len(meta['seen_classes']) + len(meta['unseen_classes']) == 40


# ------------------------------------------------------- CUB / AwA2 / SUN configs
# the released numbers per dataset (github.com/wenjiaXu/APN-ZSL, script/{CUB,AWA2,SUN}_GZSL.sh;
# batch 64 and beta1 0.5 from model/opt.py where a script sets none): K, classes, global
# pooling (--avg_pool), --xe, --l_xe, --attri, --l_attri, --regular, --l_regular, grouping
# (--use_group), compactness (--cpt; 0 where --use_group is off), phase-1 epochs
# (--pretrain_epoch + 1), --pretrain_lr, --classifier_lr
RELEASED = {
    'cub': (312, 200, 'max', 1, 1, 1e-2, 1e-1, 5e-5, 4e-2, 'groups', 1e-9, 6, 1e-4, 1e-6),
    'awa2': (85, 50, 'mean', 1, 1, 1e-4, 1e-2, 5e-4, 0.5e-6, 'whole', 0.0, 3, 1e-4, 1e-7),
    'sun': (102, 717, 'mean', 1, 1, 1e-4, 5e-2, 1e-3, 5e-3, 'groups', 2e-7, 5, 1e-3, 1e-6),
}


@pytest.mark.parametrize('name', sorted(RELEASED))
def test_real_dataset_configs_carry_the_released_numbers(name):
    (k, classes, pooling, xe, l_xe, attri, l_attri, regular, l_regular, grouping, cpt,
     p1_epochs, p1_lr, lr) = RELEASED[name]
    cfg = Config.fromfile(str(REPO / f'configs/apn/apn_vit_{name}.py'))
    head = cfg.model.head
    assert head.type == 'APNHead' and cfg.model.type == 'ImageClassifier'
    assert (head.num_attributes, head.num_classes, head.in_channels) == (k, classes, 768)
    assert head.global_pooling == pooling and head.local_pooling == 'max'
    assert head.scale == 1.0 and head.prototype_init_scale == 2e-4
    assert (head.global_ce_weight, head.local_ce_weight) == (xe, l_xe)
    assert (head.global_regression.loss_weight, head.local_regression.loss_weight) == \
        (attri, l_attri)
    assert (head.global_decorrelation.loss_weight, head.local_decorrelation.loss_weight) == \
        (regular, l_regular)
    assert head.global_decorrelation.norm == head.local_decorrelation.norm == 'group'
    assert head.global_decorrelation.grouping == head.local_decorrelation.grouping == grouping
    assert head.compactness.loss_weight == cpt
    hook = cfg.default_hooks.two_phase_schedule
    assert (hook.phase1_epochs, hook.phase1_lr, hook.step_epochs, hook.gamma) == \
        (p1_epochs, p1_lr, 10, 0.8)
    assert 'lr' not in hook
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.betas, opt.weight_decay) == ('Adam', lr, (0.5, 0.999), 0.0)
    assert cfg.optim_wrapper.clip_grad is None
    assert cfg.optim_wrapper.constructor == 'SVIPOptimWrapperConstructor'
    assert cfg.train_cfg.max_epochs == 30 and cfg.train_dataloader.batch_size == 64
    # resize 256, centre crop 224, no flip, the last batch kept
    steps = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert steps == ['LoadImageFromFile', 'ResizeEdge', 'CenterCrop', 'PackInputs']
    assert cfg.train_dataloader.drop_last is False
    assert cfg.val_dataloader is None and cfg.test_dataloader.dataset.split == 'test'
    assert cfg.model.backbone.init_cfg.checkpoint.startswith('timm/vit_base_patch16_224')
    # builds without fetching the weights (init_weights is not called)
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert model.backbone.grid_size == (14, 14)
    assert model.head.global_prototypes.shape == model.head.local_prototypes.shape == (k, 768)
