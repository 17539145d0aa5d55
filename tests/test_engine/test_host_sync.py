"""No host-device synchronisation in SVIP's training step and inference pass (issue 7).

The ops are recorded on the CPU with a ``TorchDispatchMode``: an op that makes the host wait
for a GPU (a scalar read, an output whose shape depends on the data, a tensor made from
host data) shows up there whatever the device. The first call may build the head's and the loss's index caches; the
second must be free of such ops.
"""
import copy

import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.utils._python_dispatch import TorchDispatchMode

from svip_mm.models.losses import AttributeDecorrelationLoss

K, C, SEEN = 6, 8, [0, 1, 2, 3, 4]

# ops that read a value back to the host or whose output shape depends on the data
SYNCING = {'_local_scalar_dense', 'item', 'is_nonzero', 'equal', 'nonzero', 'nonzero_numpy',
           'argwhere', 'masked_select', 'bincount', 'histc', 'unique_dim', 'unique_consecutive',
           'unique_dim_consecutive', '_unique', '_unique2', 'repeat_interleave'}
BOOL_INDEXED = {'index', 'index_put', 'index_put_', '_index_put_impl', '_index_put_impl_'}


class SyncOps(TorchDispatchMode):
    """Records the synchronising aten ops run inside the ``with`` block, and tensors made
    from host data or copied between devices (blocking copies on a GPU)."""

    def __init__(self):
        super().__init__()
        self.found = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split('::')[-1]
        if name in SYNCING:
            self.found.append(str(func))
        elif name in ('lift_fresh', 'lift_fresh_copy'):  # torch.tensor(<host data>)
            self.found.append(f'{func}: a tensor made from host data')
        elif name == '_to_copy' and kwargs and kwargs.get('device') not in (
                None, args[0].device):
            self.found.append(f'{func}: a copy to {kwargs["device"]}')
        elif name in BOOL_INDEXED and any(
                isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
                for i in args[1]):
            self.found.append(f'{func} with a boolean index')
        return func(*args, **(kwargs or {}))


def tiny_svip_cfg(consistency='kl'):
    rng = np.random.default_rng(0)
    return dict(
        type='SVIPClassifier',
        consistency=dict(type='SVIPConsistencyLoss', mode=consistency),
        backbone=dict(type='SVIPVisionTransformer', arch='tiny-cpu'),
        neck=dict(type='SemanticPatchSelector', in_channels=192, num_attributes=K, keep_k=12,
                  word_vectors=rng.standard_normal((K, 50)).astype(np.float32)),
        head=dict(type='SemanticAttributeHead', num_attributes=K, in_channels=192,
                  num_classes=C, class_attributes=rng.random((C, K)), seen_classes=SEEN,
                  attribute_group_ids=[0, 0, 2, 2, -1, 4],
                  decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=0.3)))


def _data(model, b=3, seed=0, training=True):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(b, 3, 64, 64, generator=g) * 255
    samples = [DataSample().set_gt_label(SEEN[(i + seed) % len(SEEN)]) for i in range(b)]
    return model.data_preprocessor(dict(inputs=list(images), data_samples=samples), training)


@pytest.mark.parametrize('consistency', ['kl', 'jsd'])
def test_the_training_step_does_not_synchronise(consistency):
    torch.manual_seed(0)
    model = MODELS.build(tiny_svip_cfg(consistency))
    model.loss(**_data(model, seed=0))  # may build the index caches
    data = _data(model, seed=1)
    with SyncOps() as ops:
        losses = model.loss(**data)
    assert ops.found == []
    assert losses['loss_decorrelation'] > 0
    # the backward pass either
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    with SyncOps() as ops:
        total.backward()
    assert ops.found == []


def test_inference_does_not_synchronise():
    torch.manual_seed(0)
    model = MODELS.build(tiny_svip_cfg()).eval()

    def infer(data):
        attributes, keep = model.infer(data['inputs'])
        return model.head.class_logits(attributes, 'all'), model.head.class_logits(attributes)

    with torch.no_grad():
        infer(_data(model, training=False))  # may build the index cache
        data = _data(model, seed=1, training=False)
        with SyncOps() as ops:
            infer(data)
    assert ops.found == []


def test_the_recorder_sees_the_synchronising_ops():
    x, i = torch.tensor([1.0, -2.0, 3.0]), torch.tensor([0, 2])
    with SyncOps() as ops:
        bool(x.any())
        x[x > 0]
        torch.bincount(i)
        x[i]  # an integer index is fine
        x.to(torch.float64)  # and so is a cast
        torch.tensor(2.0)
    assert ops.found == ['aten._local_scalar_dense.default', 'aten.index.Tensor with a boolean '
                         'index', 'aten.bincount.default',
                         'aten.lift_fresh.default: a tensor made from host data']


def _seen_logits(head, a):
    return head.class_logits(a, 'seen')


def test_the_seen_class_cache_follows_set_class_attributes_and_load_state_dict():
    torch.manual_seed(0)
    model = MODELS.build(tiny_svip_cfg())
    head = model.head
    a = torch.randn(2, K)
    all_logits = head.class_logits(a, 'all')
    assert torch.allclose(_seen_logits(head, a), all_logits[:, SEEN])
    samples = [DataSample().set_gt_label(i) for i in (4, 0)]
    assert head.seen_targets(samples).tolist() == [4, 0]

    table = head.class_attributes.clone()
    head.set_class_attributes(table, [1, 5, 7])
    assert _seen_logits(head, a).shape == (2, 3)
    assert torch.allclose(_seen_logits(head, a), head.class_logits(a, 'all')[:, [1, 5, 7]])
    assert head.seen_targets([DataSample().set_gt_label(i) for i in (7, 1, 5)]).tolist() == \
        [2, 0, 1]
    with pytest.raises(ValueError, match=r'unseen classes \[0, 4\]'):
        head.seen_targets(samples)

    # back to the first seen set from a checkpoint-like state dict
    other = MODELS.build(tiny_svip_cfg())
    head.load_state_dict(other.head.state_dict())
    assert torch.allclose(_seen_logits(head, a), head.class_logits(a, "all")[:, SEEN])
    assert head.seen_targets(samples).tolist() == [4, 0]

    # a replaced buffer (as Module.to does) and a deep copy (EMA hooks) start afresh
    head._buffers['seen_mask'] = torch.zeros(C, dtype=torch.bool).index_fill_(
        0, torch.tensor([2, 6]), True)
    assert torch.allclose(_seen_logits(head, a), head.class_logits(a, 'all')[:, [2, 6]])
    twin = copy.deepcopy(head)
    twin.seen_mask[3] = True
    assert _seen_logits(twin, a).shape == (2, 3) and _seen_logits(head, a).shape == (2, 2)

    # a class table that is never set is still an error
    bare = MODELS.build(dict(tiny_svip_cfg()['head'], class_attributes=None, seen_classes=None))
    with pytest.raises(RuntimeError, match='never set'):
        bare.class_logits(a)


def test_the_decorrelation_cache_follows_the_group_ids():
    torch.manual_seed(0)
    attrs = torch.randn(4, 6)
    loss = AttributeDecorrelationLoss(1.0)

    def official(ids):
        groups = [[k for k in range(6) if ids[k] == g] for g in sorted(set(ids) - {-1})]
        if not groups:
            return torch.tensor(0.0)
        return sum(attrs[:, g].norm(dim=1).mean() for g in groups) / len(groups)

    ids = torch.tensor([0, 0, 3, 3, -1, 7])
    assert torch.allclose(loss(attrs, ids), official(ids.tolist()), atol=1e-6)
    ids[4] = 3  # changed in place: the cache must notice
    assert torch.allclose(loss(attrs, ids), official(ids.tolist()), atol=1e-6)
    for new in ([1, 1, 1, 1, 1, 1], [-1] * 6, [5, -1, 0, -1, 5, 2]):
        assert torch.allclose(loss(attrs, torch.tensor(new)), official(new), atol=1e-6)


def test_the_non_finite_loss_hook_synchronises_once(tmp_path):
    from types import SimpleNamespace

    from svip_mm.engine.non_finite_loss_hook import NonFiniteLossHook
    runner = SimpleNamespace(iter=6, epoch=1, work_dir=str(tmp_path))
    outputs = dict(loss=torch.tensor(3.0), loss_ce=torch.tensor(1.0), train_acc=torch.tensor(50.),
                   loss_selector=torch.tensor([0.5, 1.5]), loss_extra=0.5)
    with SyncOps() as ops:
        NonFiniteLossHook().after_train_iter(runner, 2, outputs=outputs)
    assert ops.found == ['aten._local_scalar_dense.default']
    outputs['loss_ce'] = torch.tensor(float('inf'))
    outputs['loss'] = torch.tensor(float('inf'))
    with pytest.raises(FloatingPointError, match=r"'loss_ce' is inf at iteration 7 "
                                                 r"\(epoch 2, batch 3\)"):
        NonFiniteLossHook().after_train_iter(runner, 2, outputs=outputs)
    outputs['loss_ce'], outputs['loss_extra'] = torch.tensor(1.0), float('nan')
    with pytest.raises(FloatingPointError, match=r"'loss_extra' is nan at iteration 7 .*"
                                                 r"No checkpoint has been written"):
        NonFiniteLossHook().after_train_iter(runner, 2, outputs=outputs)
    # the message names the checkpoint that is there, not one that is not
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    with pytest.raises(FloatingPointError, match=r"latest checkpoint in the work dir, "
                                                 r"epoch_1\.pth, is from before"):
        NonFiniteLossHook().after_train_iter(runner, 2, outputs=outputs)
