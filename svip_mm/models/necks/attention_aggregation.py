"""Aggregating per-layer attention into one CLS-to-patch relevance score (spec, section 2).

All functions take the head-averaged maps that
:meth:`SVIPVisionTransformer.encode(..., return_attn=True)` returns: a list of L tensors
[B, N, N] (N = 1 + patches, CLS first) and give [B, N - 1] scores of CLS for each patch. They
work layer by layer on one running [B, N, N] product, never on [B, heads, N, N].
"""
from typing import Callable, Dict, List

import torch


def attention_rollout(maps: List[torch.Tensor]) -> torch.Tensor:
    """Official-code rollout: per layer add identity, renormalise rows; R = A_L ... A_1."""
    rollout = None
    for attn in maps:
        eye = torch.eye(attn.shape[-1], dtype=attn.dtype, device=attn.device)
        aug = attn + eye
        aug = aug / aug.sum(dim=-1, keepdim=True)
        rollout = aug if rollout is None else torch.bmm(aug, rollout)
    return rollout[:, 0, 1:]


def paper_rollout(maps: List[torch.Tensor], num_heads: int) -> torch.Tensor:
    """Paper Eq. 4: T_l = attention summed over heads; W_1 = T_1, W_l = W_{l-1} + W_{l-1} T_l."""
    acc = None
    for attn in maps:
        summed = attn * num_heads  # the maps are head means
        acc = summed if acc is None else acc + torch.bmm(acc, summed)
    return acc[:, 0, 1:]


def last_layer_attention(maps: List[torch.Tensor]) -> torch.Tensor:
    """The last layer's CLS attention (head mean)."""
    return maps[-1][:, 0, 1:]


def aggregate_cls_attention(maps: List[torch.Tensor], mode: str,
                            num_heads: int) -> torch.Tensor:
    """Dispatch on ``mode`` in ``('rollout', 'paper', 'last')``; returns [B, N - 1]."""
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
