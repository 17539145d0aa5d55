"""Consistency, decorrelation and selector losses against their formulas."""
import math

import pytest
import torch

from svip_mm.models.losses import (AttributeDecorrelationLoss, SVIPConsistencyLoss,
                                   SVIPSelectorLoss)


def test_kl_consistency_is_the_official_formula():
    torch.manual_seed(0)
    src, tgt = torch.randn(4, 6), torch.randn(4, 6)
    t = 20.0
    p_tgt, p_src = (tgt / t).softmax(1), (src / t).softmax(1)
    # KL(p_tgt || p_src) element-wise, mean over B x C (torch KLDivLoss default), times T^2
    expected = (p_tgt * (p_tgt.log() - p_src.log())).mean() * t * t
    assert torch.allclose(SVIPConsistencyLoss('kl')(src, tgt), expected, rtol=1e-4)
    batchmean = SVIPConsistencyLoss('kl', reduction='batchmean')(src, tgt)
    assert torch.allclose(batchmean, expected * 6, rtol=1e-4)


def test_jsd_is_symmetric_bounded_and_zero_for_equal_inputs():
    torch.manual_seed(1)
    a, b = torch.randn(3, 5), torch.randn(3, 5)
    jsd = SVIPConsistencyLoss('jsd')
    assert torch.allclose(jsd(a, b), jsd(b, a), atol=1e-6)
    assert jsd(a, a).abs().item() < 1e-6
    big = jsd(torch.tensor([[100.0, 0.0]]), torch.tensor([[0.0, 100.0]]))
    assert big.item() == pytest.approx(math.log(2), abs=1e-4)


def test_decorrelation_matches_the_official_loop():
    torch.manual_seed(2)
    attrs = torch.randn(5, 7)
    groups = {'shape': [0, 1, 2], 'colour': [3, 4], 'pattern': [5, 6]}
    ids = torch.tensor([0, 0, 0, 1, 1, 2, 2])
    # official: for each group the per-sample L2 norm, mean over the batch; mean over groups
    expected = sum(attrs[:, g].norm(dim=1).mean() for g in groups.values()) / len(groups)
    loss = AttributeDecorrelationLoss(loss_weight=0.3)(attrs, ids)
    assert torch.allclose(loss, 0.3 * expected, atol=1e-6)
    ungrouped = torch.tensor([0, 0, 0, -1, -1, -1, -1])
    assert torch.allclose(AttributeDecorrelationLoss(1.0)(attrs, ungrouped),
                          attrs[:, :3].norm(dim=1).mean(), atol=1e-6)
    assert AttributeDecorrelationLoss(1.0)(attrs, torch.full((7, ), -1)).item() == 0.0


def test_selector_loss_modes():
    labels = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    keep_everywhere = torch.full((1, 4), -4.0)  # the collapsed selector: "keep" for all units
    ranked = torch.tensor([[1.0, -1.0, -1.0, -1.0]])
    bce = SVIPSelectorLoss('bce', loss_weight=1.0)
    balanced = SVIPSelectorLoss('balanced_bce', loss_weight=1.0)
    ranking = SVIPSelectorLoss('ranking', loss_weight=1.0)
    # class balance makes the collapsed prediction cost more than under plain BCE
    assert balanced(keep_everywhere, labels) > bce(keep_everywhere, labels)
    assert ranking(ranked, labels) < ranking(-ranked, labels)
    expected_rank = torch.nn.functional.softplus(torch.tensor(-2.0))
    assert torch.allclose(ranking(ranked, labels), expected_rank)
    assert torch.allclose(SVIPSelectorLoss('bce', 3.0)(ranked, labels), 3 * bce(ranked, labels))
    with pytest.raises(ValueError, match="'focal'"):
        SVIPSelectorLoss('focal')


def test_selector_loss_is_safe_under_autocast():
    logits = torch.randn(2, 4, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = SVIPSelectorLoss('bce')(logits.bfloat16(), torch.ones(2, 4))
    assert loss.dtype == torch.float32
    loss.backward()
    assert logits.grad is not None
