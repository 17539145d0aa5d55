"""Aggregating per-layer attention into one CLS-to-patch relevance score
(docs/method.md, section 2).

All functions take the head-averaged maps that
:meth:`SVIPVisionTransformer.encode(..., return_attn=True)` returns: a list of L tensors
[B, N, N] (N = 1 + patches, CLS first) and give [B, N - 1] scores of CLS for each patch. They
work layer by layer on one running [B, N, N] product, never on [B, heads, N, N].

The scores are always fp32, computed with autocast off: they decide the selector's training
labels (top-k), which must be the fp32 ones the test-time ``attention_unit_scores`` report.
Under autocast ``torch.bmm`` would round each layer's product to bf16 (moving units across the
top-k boundary) or fp16, where Eq. 4's running product (row sums (1 + heads)^l) overflows.
"""
import contextlib
from typing import Callable, Dict, List

import torch


def _fp32_region(maps: List[torch.Tensor]):
    """Autocast disabled for the maps' device type (a no-op where it has no autocast)."""
    if not maps:
        raise ValueError('attention aggregation needs at least one layer map, got none')
    device_type = maps[0].device.type
    available = getattr(torch.amp, 'is_autocast_available', None)  # torch >= 2.4
    if available is not None and not available(device_type):
        return contextlib.nullcontext()
    try:
        return torch.autocast(device_type=device_type, enabled=False)
    except RuntimeError:  # older torch: a device type without autocast (e.g. meta)
        return contextlib.nullcontext()


def attention_rollout(maps: List[torch.Tensor]) -> torch.Tensor:
    """Official-code rollout: per layer add identity, renormalise rows; R = A_L ... A_1.

    Args:
        maps: L head-averaged maps [B, N, N], any float dtype.

    Returns:
        [B, N - 1] fp32 rollout of CLS onto the patches.
    """
    with _fp32_region(maps):
        rollout = None
        for attn in maps:
            attn = attn.float()
            eye = torch.eye(attn.shape[-1], dtype=attn.dtype, device=attn.device)
            aug = attn + eye
            aug = aug / aug.sum(dim=-1, keepdim=True)
            rollout = aug if rollout is None else torch.bmm(aug, rollout)
        return rollout[:, 0, 1:]


def paper_rollout(maps: List[torch.Tensor], num_heads: int) -> torch.Tensor:
    """Paper Eq. 4: T_l = attention summed over heads; W_1 = T_1, W_l = W_{l-1} + W_{l-1} T_l.

    Args:
        maps: L head-averaged maps [B, N, N], any float dtype.
        num_heads: heads per layer (the maps are head means, T_l = heads * map).

    Returns:
        [B, N - 1] fp32 CLS row of W_L (grows like (1 + heads)^L: fp32 only).
    """
    with _fp32_region(maps):
        acc = None
        for attn in maps:
            summed = attn.float() * num_heads  # the maps are head means
            acc = summed if acc is None else acc + torch.bmm(acc, summed)
        return acc[:, 0, 1:]


def last_layer_attention(maps: List[torch.Tensor]) -> torch.Tensor:
    """The last layer's CLS attention (head mean): L maps [B, N, N] -> [B, N - 1] fp32."""
    if not maps:
        raise ValueError('attention aggregation needs at least one layer map, got none')
    return maps[-1][:, 0, 1:].float()


def aggregate_cls_attention(maps: List[torch.Tensor], mode: str,
                            num_heads: int) -> torch.Tensor:
    """Dispatch on ``mode`` in ``('rollout', 'paper', 'last')``; returns [B, N - 1] fp32."""
    table: Dict[str, Callable[[], torch.Tensor]] = {
        'rollout': lambda: attention_rollout(maps),
        'paper': lambda: paper_rollout(maps, num_heads),
        'last': lambda: last_layer_attention(maps),
    }
    if mode not in table:
        raise ValueError(f"aggregation must be one of {sorted(table)}, got {mode!r}")
    if not maps:
        raise ValueError('attention aggregation needs at least one layer map, got none')
    return table[mode]()
