"""The efficient path gives the reference path's predictions and losses (CPU).

Reference: ``backbone.attention='explicit'`` (per-head probabilities with autograd, fp32),
torch's default optimizer. Fast: ``attention='fused'`` (SDPA, source-pass maps recomputed
under no_grad) under each CPU SDPA backend, foreach optimizer, bf16 autocast, and
``torch.compile`` of the blocks (``svip_mm.engine.fast_path``).

How the checks are made meaningful on a tiny model:

* the model is first trained for a few steps on a learnable batch (each class has its own
  colour, class attribute rows are distinct binary codes), so its test-batch predictions are
  right and their top-1 margins are far from ties; the test asserts both before comparing
  bf16 with fp32, so "same top-1" cannot pass on a coin flip nor be flaky on a tie;
* the two-pass losses depend on the source pass's keep set (top-k of attention rollout),
  which is nearly flat on a small model; the loss test sharpens the attention (q and k
  scaled by 3) and asserts that the k-th / (k+1)-th rollout gap is far larger than the
  difference between the two paths' maps, so equal keep sets are a property of the
  paths, not luck.
"""
import copy
import logging

import numpy as np
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import svip_mm  # noqa: F401
from svip_mm.engine.fast_path import (CompileBackboneHook, SDPABackendHook, compile_backbone,
                                      optimizer_impl_cfg, resolve_sdpa_backend,
                                      sdpa_backend_context, uncompile_backbone)

K, C, SEEN, KEEP, SIZE = 8, 10, list(range(7)), 5, 48
CPU_SDPA = ['default', 'math']  # 'default' is torch's choice: the flash kernel on the CPU


def _class_codes() -> np.ndarray:
    """Distinct binary attribute rows (no ties between classes)."""
    return np.array([[(((i * 37 + 11) % 256) >> b) & 1 for b in range(K)] for i in range(C)],
                    dtype=np.float32)


def _cfg():
    rng = np.random.default_rng(0)
    return dict(
        type='SVIPClassifier',
        backbone=dict(type='SVIPVisionTransformer', img_size=SIZE,
                      arch=dict(embed_dims=64, num_layers=3, num_heads=2, patch_size=8)),
        neck=dict(type='SemanticPatchSelector', in_channels=64, num_attributes=K, keep_k=KEEP,
                  hidden_channels=32, word_vectors=rng.standard_normal((K, 16)).astype(
                      np.float32)),
        head=dict(type='SemanticAttributeHead', num_attributes=K, in_channels=64,
                  num_classes=C, class_attributes=_class_codes(), seen_classes=SEEN,
                  attribute_group_ids=np.arange(K) % 3,
                  decorrelation=dict(type='AttributeDecorrelationLoss', loss_weight=0.09)),
        data_preprocessor=dict(mean=[127.5] * 3, std=[64.0] * 3))


def _batch(n: int, seed: int):
    """Images whose class is visible (a class colour + noise), labels cycling over SEEN."""
    colours = torch.rand(C, 3, 1, 1, generator=torch.Generator().manual_seed(123)) * 200 + 20
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(SEEN)
    images = (colours[labels] + torch.randn(n, 3, SIZE, SIZE, generator=g) * 30).clamp(0, 255)
    return images, [DataSample().set_gt_label(int(label)) for label in labels]


def _total(losses):
    return sum(v for k, v in losses.items() if k.startswith('loss'))


@pytest.fixture(scope='module')
def trained():
    """A tiny SVIP model trained 15 steps (fast path, fp32) and a held-out test batch."""
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(_cfg())
    images, samples = _batch(14, seed=0)
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), True)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(15):
        opt.zero_grad()
        _total(model.loss(data['inputs'], data['data_samples'])).backward()
        opt.step()
    model.eval()
    test_images, test_samples = _batch(14, seed=1)
    test = model.data_preprocessor(dict(inputs=test_images, data_samples=test_samples), False)
    labels = torch.tensor([int(s.gt_label) for s in test_samples])
    return model, test['inputs'], labels


def _class_scores(model, inputs, attention, sdpa='default', amp=False):
    model.backbone.attention = attention
    autocast = torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp)
    with torch.no_grad(), sdpa_backend_context(sdpa), autocast:
        attributes, keep = model.infer(inputs)
        logits = model.head.class_logits(attributes, 'all').float()
        samples = model.predict(inputs)
    return logits, keep, torch.stack([s.pred_score for s in samples])


@pytest.mark.parametrize('sdpa', CPU_SDPA)
def test_fp32_class_scores_match_the_reference(trained, sdpa):
    model, inputs, _ = trained
    ref_logits, ref_keep, ref_scores = _class_scores(model, inputs, 'explicit')
    logits, keep, scores = _class_scores(model, inputs, 'fused', sdpa)
    assert torch.equal(keep, ref_keep)
    assert (logits - ref_logits).abs().max() <= 1e-4
    assert (scores - ref_scores).abs().max() <= 1e-4


@pytest.mark.parametrize('sdpa', CPU_SDPA)
def test_bf16_autocast_keeps_the_top1_of_the_fp32_reference(trained, sdpa):
    model, inputs, labels = trained
    ref_logits, _, _ = _class_scores(model, inputs, 'explicit')
    top2 = ref_logits.topk(2, dim=1).values
    margins = top2[:, 0] - top2[:, 1]
    ref_top1 = ref_logits.argmax(1)
    # preconditions that make the comparison meaningful (see the module docstring)
    assert (ref_top1 == labels).float().mean() >= 0.8, 'the model did not learn the batch'
    assert len(ref_top1.unique()) >= 5 and margins.min() > 0.25, \
        f'degenerate test batch: top-1 margins {margins.tolist()}'
    logits, _, _ = _class_scores(model, inputs, 'fused', sdpa, amp=True)
    assert torch.equal(logits.argmax(1), ref_top1)
    # bf16 moves the logits, but by much less than the margins it preserved
    assert (logits - ref_logits).abs().max() < 0.5


def _optim_wrapper(model, impl):
    cfg = dict(type='OptimWrapper', clip_grad=dict(max_norm=1.0),
               optimizer=optimizer_impl_cfg(dict(type='AdamW', lr=1e-3), impl, 'cpu'))
    return build_optim_wrapper(model, cfg)


@pytest.mark.parametrize('sdpa', CPU_SDPA)
def test_two_pass_step_losses_match_the_reference(trained, sdpa):
    base = copy.deepcopy(trained[0]).train()
    with torch.no_grad():  # sharper attention: a keep set that is not decided by rounding
        for block in base.backbone.blocks:
            d = block.attn.qkv.in_features
            block.attn.qkv.weight[:2 * d] *= 3
            block.attn.qkv.bias[:2 * d] *= 3
    images, samples = _batch(10, seed=2)
    data = dict(inputs=images, data_samples=samples)

    inputs = base.data_preprocessor(copy.deepcopy(data), True)['inputs']
    scores = {}
    with torch.no_grad(), sdpa_backend_context(sdpa):
        patches, grid = base.backbone.embed(inputs)
        for attention in ('explicit', 'fused'):
            base.backbone.attention = attention
            _, maps = base.backbone.encode(patches, grid, return_attn=True)
            scores[attention] = base.neck.attention_unit_scores(maps, grid, 2)
    ranked = scores['explicit'].sort(dim=1, descending=True).values
    gap = (ranked[:, KEEP - 1] - ranked[:, KEEP]).min()
    assert gap > 100 * (scores['fused'] - scores['explicit']).abs().max(), \
        'keep sets would be decided by rounding'

    reference, fast = copy.deepcopy(base), copy.deepcopy(base)
    reference.backbone.attention, fast.backbone.attention = 'explicit', 'fused'
    ref_ow, fast_ow = _optim_wrapper(reference, 'default'), _optim_wrapper(fast, 'foreach')
    for step in range(2):  # the second step also checks gradients, clipping and the update
        torch.manual_seed(step)
        ref_losses = reference.train_step(copy.deepcopy(data), ref_ow)
        torch.manual_seed(step)
        with sdpa_backend_context(sdpa):
            fast_losses = fast.train_step(copy.deepcopy(data), fast_ow)
        assert set(ref_losses) == set(fast_losses)
        for key in ref_losses:
            diff = (ref_losses[key] - fast_losses[key]).abs().item()
            assert diff <= 1e-4, f'step {step}: {key} differs by {diff}'


def test_compiled_blocks_match_eager_and_the_source_pass_still_gets_its_maps(trained):
    """aot_eager runs Dynamo and AOTAutograd (the inductor backend's front end) quickly."""
    model, inputs, _ = trained
    ref_logits, ref_keep, _ = _class_scores(model, inputs, 'fused')
    compiled = copy.deepcopy(model)
    state = compile_backbone(compiled.backbone, backend='aot_eager')
    try:
        logits, keep, _ = _class_scores(compiled, inputs, 'fused')
        assert state.active and state.compiled_calls > 0, state
        assert torch.equal(keep, ref_keep) and (logits - ref_logits).abs().max() <= 1e-4

        # training: the source pass hooks attn.qkv -> its blocks run eagerly; the target
        # pass runs compiled; losses and gradients equal the uncompiled model's
        images, samples = _batch(6, seed=3)
        eager = copy.deepcopy(model).train()
        compiled.train()
        losses = {}
        for name, m in (('eager', eager), ('compiled', compiled)):
            x = m.data_preprocessor(dict(inputs=images, data_samples=samples), True)
            losses[name] = m.loss(x['inputs'], x['data_samples'])
            _total(losses[name]).backward()
        eager_before = state.eager_calls
        assert eager_before >= len(model.backbone.blocks), 'source pass did not run eager'
        for key in losses['eager']:
            assert abs(float(losses['eager'][key]) - float(losses['compiled'][key])) <= 1e-4
        for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
            assert torch.allclose(p.grad, q.grad, atol=1e-5, rtol=1e-4), name
    finally:
        uncompile_backbone(compiled.backbone)
    assert 'forward' not in compiled.backbone.blocks[0].__dict__


def test_compile_failure_falls_back_to_eager_with_a_reason(trained, caplog):
    model, inputs, _ = trained
    ref_logits, _, _ = _class_scores(model, inputs, 'fused')

    def broken_backend(gm, example_inputs):
        raise RuntimeError('no compiler here')

    failing = copy.deepcopy(model)
    state = compile_backbone(failing.backbone, backend=broken_backend)
    logits, _, _ = _class_scores(failing, inputs, 'fused')
    assert not state.active and 'no compiler here' in state.reason
    assert state.summary().startswith('fallback:')
    assert (logits - ref_logits).abs().max() <= 1e-5

    unknown = copy.deepcopy(model)
    state = compile_backbone(unknown.backbone, backend='no_such_backend')
    assert not state.active and 'no_such_backend' in state.reason
    assert 'forward' not in unknown.backbone.blocks[0].__dict__  # nothing installed
    with pytest.raises(TypeError, match='blocks'):
        compile_backbone(torch.nn.Linear(2, 2))


class _FakeRunner:
    def __init__(self, model, optim_wrapper=None):
        self.model, self.optim_wrapper = model, optim_wrapper
        self.logger = logging.getLogger('fake-runner')


def test_hooks_set_the_sdpa_backend_and_compile_for_the_run(trained):
    model = copy.deepcopy(trained[0])
    assert resolve_sdpa_backend('auto', 'cpu', amp=True) == 'math'
    assert resolve_sdpa_backend('auto', 'cpu', amp=False) == 'default'
    assert resolve_sdpa_backend('auto', 'cuda', amp=True) == 'default'
    with pytest.raises(ValueError, match='sdpa backend'):
        resolve_sdpa_backend('fastest', 'cpu')
    bf16 = build_optim_wrapper(model, dict(type='AutocastOptimWrapper',
                                           optimizer=dict(type='SGD', lr=0.1)))
    for wrapper, flash_during in ((bf16, False), (None, True)):
        hook, runner = SDPABackendHook('auto'), _FakeRunner(model, wrapper)
        assert torch.backends.cuda.flash_sdp_enabled()
        hook.before_run(runner)
        try:  # under bf16 on the CPU: the math backend only, flash switched off
            assert torch.backends.cuda.flash_sdp_enabled() == flash_during
            assert torch.backends.cuda.math_sdp_enabled()
        finally:
            hook.after_run(runner)
        assert torch.backends.cuda.flash_sdp_enabled()
    runner = _FakeRunner(model)
    with pytest.raises(ValueError, match='backend'):
        SDPABackendHook('fastest')

    compile_hook = CompileBackboneHook(backend='no_such_backend')
    compile_hook.before_run(runner)
    assert compile_hook.state.requested and not compile_hook.state.active


def test_optimizer_impl_config():
    base = dict(type='AdamW', lr=1e-3, foreach=False)
    assert optimizer_impl_cfg(base, 'fused', 'cuda') == dict(type='AdamW', lr=1e-3, fused=True)
    assert optimizer_impl_cfg(base, 'auto', 'cuda')['fused'] is True
    assert optimizer_impl_cfg(base, 'auto', 'cpu')['foreach'] is True
    assert optimizer_impl_cfg(base, 'for-loop', 'cpu')['foreach'] is False
    assert optimizer_impl_cfg(base, 'default', 'cpu') == dict(type='AdamW', lr=1e-3)
    with pytest.raises(ValueError, match='impl'):
        optimizer_impl_cfg(base, 'turbo', 'cpu')
    with pytest.raises(ValueError, match='LBFGS'):
        optimizer_impl_cfg(dict(type='LBFGS'), 'fused', 'cuda')
