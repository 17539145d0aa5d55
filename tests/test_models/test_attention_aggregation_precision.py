"""The selector's labels are aggregated in fp32 whatever autocast is active (issue 12).

Training runs the source pass under bf16 autocast (AutocastOptimWrapper on the CPU) or fp16
(``--amp`` on a GPU without bf16). The backbone hands the neck fp32 attention maps, but an
aggregation that multiplies them inside the autocast region gets bf16 / fp16 products: the
rollout, hence the top-k keep set (labels = not kept), then differ from the fp32 scores used
at test time, and Eq. 4's running product (row sums 13^l with 12 heads) overflows fp16.
"""
import numpy as np
import pytest
import torch

from svip_mm.models.necks import SemanticPatchSelector, aggregate_cls_attention, paper_rollout

GRID, HEADS, LAYERS, KEEP_K = (14, 14), 12, 12, 40  # ViT-B/16 at 224 px, CUB's k = 40 of 49


def _vit_b_maps(seed, temp, b=2):
    """12 head-averaged maps [b, 197, 197] (fp32, rows sum to 1) as the backbone returns."""
    g = torch.Generator().manual_seed(seed)
    n = 1 + GRID[0] * GRID[1]
    return [(torch.randn(b, n, n, generator=g) * temp).softmax(-1) for _ in range(LAYERS)]


def _neck(aggregation):
    return SemanticPatchSelector(in_channels=4, num_attributes=3, keep_k=KEEP_K,
                                 word_vectors=np.ones((3, 5)), aggregation=aggregation)


def _training_keep(neck, maps):
    """The neck's label path as SVIPClassifier.loss runs it: [B, U] scores -> [B, U] keep."""
    scores = neck.attention_unit_scores(maps, GRID, HEADS)
    return scores, neck.keep_from_attention(scores)


def _selector_labels(neck, keep):
    """The [B, U] labels neck.loss hands to its loss module (1 = not kept)."""
    seen = []
    hook = neck.loss_module.register_forward_pre_hook(lambda mod, args: seen.append(args[1]))
    try:
        neck.loss(torch.zeros(keep.shape), keep)
    finally:
        hook.remove()
    return seen[0]


def _keep_with_rounded_products(neck, maps, dtype):
    """Reference aggregation whose layer products are rounded to ``dtype`` (what autocast
    did to torch.bmm); only used to show that the maps below are sensitive to it."""
    acc = None
    for attn in maps:
        if neck.aggregation == 'rollout':
            step = attn + torch.eye(attn.shape[-1])
            step = step / step.sum(-1, keepdim=True)
            acc = step if acc is None else (step.to(dtype) @ acc.to(dtype)).float()
        else:
            step = attn * HEADS
            acc = step if acc is None else acc + (acc.to(dtype) @ step.to(dtype)).float()
    return _training_keep(_neck('last'), [acc])[1]


# seeds / temperatures searched so that bf16 rounding moves units across the top-40 boundary
@pytest.mark.parametrize('aggregation, seed, temp', [('rollout', 1, 1.0), ('paper', 0, 0.3)])
def test_training_labels_under_bf16_autocast_equal_the_fp32_labels(aggregation, seed, temp):
    neck = _neck(aggregation)
    maps = _vit_b_maps(seed, temp)
    ref_scores, ref_keep = _training_keep(neck, maps)  # no autocast: the test-time fp32 scores
    ref_labels = _selector_labels(neck, ref_keep)
    # precondition: bf16 products do change these labels, so the test can fail
    assert not torch.equal(_keep_with_rounded_products(neck, maps, torch.bfloat16), ref_keep)

    with torch.autocast('cpu', dtype=torch.bfloat16):
        scores, keep = _training_keep(neck, maps)
        labels = _selector_labels(neck, keep)
    assert torch.equal(labels, ref_labels)
    assert torch.equal(scores, ref_scores) and scores.dtype == torch.float32


def test_fp16_paper_rollout_stays_finite_on_a_vit_b_stack():
    # fp32 maps under fp16 autocast: how --amp on a GPU without bf16 reaches the aggregation
    # (the backbone always returns fp32 maps); the CPU autocast rounds torch.bmm the same way
    maps = _vit_b_maps(seed=0, temp=1.0)
    ref = paper_rollout(maps, HEADS)
    assert ref.abs().max() > torch.finfo(torch.float16).max  # 13^11-scale sums: fp16 overflows
    neck = _neck('paper')
    _, ref_keep = _training_keep(neck, maps)

    with torch.autocast('cpu', dtype=torch.float16):
        out = paper_rollout(maps, HEADS)
        _, keep = _training_keep(neck, maps)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert torch.equal(out, ref)
    assert torch.equal(keep, ref_keep)


@pytest.mark.parametrize('mode', ['rollout', 'paper', 'last'])
def test_half_precision_maps_are_aggregated_in_fp32(mode):
    # maps given in fp16 (not what the backbone returns, but the functions are public):
    # the result is the fp32 aggregation of the same values, not an fp16 one
    maps16 = [m.half() for m in _vit_b_maps(seed=0, temp=1.0)]
    out = aggregate_cls_attention(maps16, mode, HEADS)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert torch.equal(out, aggregate_cls_attention([m.float() for m in maps16], mode, HEADS))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_cuda_autocast_leaves_the_labels_in_fp32(dtype):
    # the --amp path itself: CUDA autocast, maps on the GPU
    maps = [m.cuda() for m in _vit_b_maps(seed=1, temp=1.0)]
    neck = _neck('paper').cuda()
    for aggregation in ['rollout', 'paper']:
        neck.aggregation = aggregation
        ref_scores, ref_keep = _training_keep(neck, maps)
        with torch.autocast('cuda', dtype=dtype):
            scores, keep = _training_keep(neck, maps)
        assert torch.equal(keep, ref_keep)
        assert scores.dtype == torch.float32
        torch.testing.assert_close(scores, ref_scores, rtol=0, atol=0)
