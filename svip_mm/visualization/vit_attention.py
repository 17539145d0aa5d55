"""Per-layer attention maps of a ViT backbone, for the figures.

:class:`SVIPVisionTransformer` returns them itself (``encode(return_attn=True)``). mmpretrain's
``VisionTransformer`` does not: its layers call ``scaled_dot_product_attention``, which keeps
no probabilities. :func:`read_vit_attention` reads them without editing mmpretrain: a forward
hook on each layer's ``attn.qkv`` projection (``nn.Linear``, output ``[B, N, 3 * D]``, laid out
``(3, heads, head_dims)`` as ``MultiheadAttention.forward`` splits it) takes the q and k the
layer itself computes and forms ``softmax(q k^T * scale)`` per head, ``scale`` being the one
the layer uses (``head_dims ** -0.5``, or the ``scale`` its attention function was bound with).
The hooks only read: the backbone's output is unchanged, and they are removed afterwards.
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional

import torch
import torch.nn as nn

from ..models.necks import attention_rollout

__all__ = ['attention_unavailable', 'read_vit_attention', 'vit_attention_layers',
           'cls_rollout']


def _is_svip_vit(backbone) -> bool:
    return all(hasattr(backbone, name) for name in ('embed', 'encode', 'num_prefix_tokens'))


def vit_attention_layers(backbone) -> List[nn.Module]:
    """The attention modules of an mmpretrain ``VisionTransformer`` (``layers[i].attn``), each
    with a ``qkv`` ``nn.Linear``, ``num_heads`` and ``head_dims``.

    Raises:
        TypeError: the backbone has no such layers, naming what is missing.
    """
    layers = getattr(backbone, 'layers', None)
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        raise TypeError(f'{type(backbone).__name__} has no `layers` ModuleList of transformer '
                        'layers (expected an mmpretrain VisionTransformer)')
    attns = []
    for i, layer in enumerate(layers):
        attn = getattr(layer, 'attn', None)
        if not isinstance(getattr(attn, 'qkv', None), nn.Linear) or \
                not isinstance(getattr(attn, 'num_heads', None), int) or \
                not isinstance(getattr(attn, 'head_dims', None), int):
            raise TypeError(f'layer {i} of {type(backbone).__name__} has no attention with a '
                            'qkv projection, num_heads and head_dims (expected mmpretrain\'s '
                            'MultiheadAttention)')
        attns.append(attn)
    return attns


def attention_unavailable(backbone) -> Optional[str]:
    """None when :func:`read_vit_attention` can read the backbone's attention; else why not
    (one sentence, for a figure that leaves the panels out)."""
    if _is_svip_vit(backbone):
        return None
    try:
        vit_attention_layers(backbone)
    except TypeError as err:
        return f'the attention of this backbone cannot be read: {err}'
    if getattr(backbone, 'cls_token', None) is None:
        return (f'{type(backbone).__name__} has no CLS token (with_cls_token=False), so there '
                'is no CLS attention to draw')
    return None


def _scale(attn: nn.Module) -> float:
    """The q k^T scale ``attn`` uses: the ``scale`` its attention function was bound with
    (mmpretrain's ``qk_scale`` path, a ``functools.partial``), else ``head_dims ** -0.5``
    (torch's ``scaled_dot_product_attention`` default)."""
    keywords = getattr(getattr(attn, 'scaled_dot_product_attention', None), 'keywords', None)
    if keywords and keywords.get('scale') is not None:
        return float(keywords['scale'])
    return attn.head_dims ** -0.5


@contextmanager
def _qkv_hooks(backbone, maps: List[torch.Tensor]) -> Iterator[None]:
    """Append each layer's head-mean attention ``[B, N, N]`` (fp32) to ``maps`` while the
    backbone runs."""
    handles = []

    def hook_for(attn):
        scale = _scale(attn)

        def hook(module, args, output):
            b, n, _ = output.shape
            qkv = output.detach().float().reshape(b, n, 3, attn.num_heads, attn.head_dims)
            q, k = qkv[:, :, 0].transpose(1, 2), qkv[:, :, 1].transpose(1, 2)  # [B, H, N, d]
            maps.append(torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1).mean(1))
        return hook

    try:
        for attn in vit_attention_layers(backbone):
            handles.append(attn.qkv.register_forward_hook(hook_for(attn)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def read_vit_attention(model, inputs: torch.Tensor):
    """Run ``model.extract_feat(inputs)`` once and read the attention of every layer of its
    backbone, an mmpretrain ``VisionTransformer``.

    Args:
        model: a classifier with ``extract_feat`` and ``backbone`` (mmpretrain's
            ``ImageClassifier``); run as it is (call it in eval mode and under no_grad).
        inputs: ``[B, 3, H, W]`` preprocessed images.

    Returns:
        ``(feats, maps)``: the backbone output tuple (unchanged by the hooks) and one
        head-averaged attention map ``[B, N, N]`` (fp32, rows sum to 1, N = prefix tokens +
        patches) per layer, first layer first.
    """
    maps: List[torch.Tensor] = []
    with _qkv_hooks(model.backbone, maps):
        feats = model.extract_feat(inputs)
    return feats, maps


def cls_rollout(maps: List[torch.Tensor], num_prefix_tokens: int = 1) -> torch.Tensor:
    """Attention rollout (:func:`~svip_mm.models.necks.attention_rollout`) of the CLS token
    (token 0) onto the patches, after ``num_prefix_tokens`` leading tokens: ``[B, h*w]``."""
    # attention_rollout drops token 0 only; further prefix tokens (e.g. DeiT's distillation
    # token) are not patches
    return attention_rollout(maps)[:, num_prefix_tokens - 1:]
