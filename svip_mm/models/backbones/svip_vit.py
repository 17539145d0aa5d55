"""The SVIP Vision Transformer: timm's ViT layers with three entry points.

SVIP needs to change patch embeddings *before* the transformer runs and, for the source pass,
attention maps of every layer. The backbone therefore exposes

* :meth:`SVIPVisionTransformer.embed`  — image -> patch embeddings (no CLS, no position),
* :meth:`SVIPVisionTransformer.encode` — patch embeddings -> tokens, optionally with per-layer
  attention maps,
* :meth:`SVIPVisionTransformer.forward` — the usual full forward, so the backbone also works in
  a plain mmpretrain ``ImageClassifier``.

Parameter names follow timm (``patch_embed.proj``, ``cls_token``, ``pos_embed``,
``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``, ``norm``), so timm and official
SVIP weights load without renaming; mmpretrain weights are renamed on load.
"""
from functools import partial
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS
from timm.layers import PatchEmbed, resample_abs_pos_embed
from timm.models.vision_transformer import Block, init_weights_vit_timm

from .vit_checkpoint import load_pretrained_vit


def head_mean_attention(qkv: torch.Tensor, attn: nn.Module) -> torch.Tensor:
    """Recompute a block's attention probabilities from its saved qkv projection.

    Runs under ``no_grad`` in fp32 and averages over heads right away, so a pass that needs
    attention maps keeps one [B, N, N] map per layer instead of autograd state for
    [B, heads, N, N]; the block itself still runs fused attention.

    Args:
        qkv: [B, N, 3 * heads * head_dim] output of ``attn.qkv``.
        attn: the timm ``Attention`` module that produced it.

    Returns:
        [B, N, N] head-averaged attention probabilities (rows sum to 1).
    """
    # autocast off: the "fp32" recompute would otherwise multiply in bf16 under --amp
    with torch.no_grad(), torch.autocast(qkv.device.type, enabled=False):
        b, n, _ = qkv.shape
        q, k, _ = qkv.detach().reshape(b, n, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k = attn.q_norm(q).float(), attn.k_norm(k).float()
        probs = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return probs.mean(dim=1)


def explicit_block_forward(block: nn.Module, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """A timm ``Block`` with attention written out, as the released SVIP code runs it.

    The reference ("naive") path for benchmarks and parity tests: probabilities are
    materialised per head with autograd state, no fused kernel.

    Returns:
        the block output [B, N, C] and the attention probabilities [B, heads, N, N].
    """
    attn = block.attn
    h = block.norm1(x)
    b, n, _ = h.shape
    q, k, v = attn.qkv(h).reshape(b, n, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k = attn.q_norm(q), attn.k_norm(k)
    probs = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
    out = (attn.attn_drop(probs) @ v).transpose(1, 2).reshape(b, n, -1)
    out = attn.proj_drop(attn.proj(attn.norm(out)))
    x = x + block.drop_path1(block.ls1(out))
    x = x + block.drop_path2(block.ls2(block.mlp(block.norm2(x))))
    return x, probs


@MODELS.register_module()
class SVIPVisionTransformer(BaseModule):
    """ViT with separate patch-embedding and encoding steps (docs/method.md, sections 1 and 4).

    It is the backbone :class:`SVIPClassifier` requires
    (:class:`~svip_mm.models.classifiers.SVIPBackbone`, docs/interfaces.md): ``embed_dims``,
    ``num_heads``, ``num_prefix_tokens``, ``patch_size``, :meth:`embed` and
    :meth:`encode` (with ``return_attn``); the classifier checks them when it is built.

    Args:
        arch: a name from :attr:`arch_zoo` or a dict with ``embed_dims``, ``num_layers``,
            ``num_heads`` (optional ``mlp_ratio``, ``patch_size``, ``img_size``).
        img_size: input size the position embedding is built for (default: the arch's).
        patch_size: patch size (default: the arch's).
        in_channels: image channels.
        drop_rate: dropout after the position embedding and in the MLPs.
        drop_path_rate: stochastic depth, linearly increasing over the blocks.
        qkv_bias: bias in the qkv projection.
        out_type: what :meth:`forward` returns: ``'featmap'`` [B, C, h, w] patch tokens,
            ``'raw'`` [B, 1 + h*w, C], or ``'cls_token'`` [B, C].
        attention: ``'fused'`` (timm's SDPA path; maps, when asked for, recomputed under
            no_grad) or ``'explicit'`` (the reference path: attention materialised per head
            with autograd state in every pass, as the released code does). Can be switched
            on a built model through the ``attention`` attribute.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` loads timm (.pth/.safetensors)
            or mmpretrain ViT weights from a local file, a timm hub name
            (``'timm/vit_base_patch16_224.orig_in21k_ft_in1k'``, through huggingface_hub's
            cache) or an ``http(s)://`` URL (through torch.hub's cache), when
            :meth:`init_weights` runs, not when the model is built; see
            :func:`load_pretrained_vit`.
    """
    arch_zoo: Dict[str, dict] = {
        **dict.fromkeys(['b', 'base'], dict(
            embed_dims=768, num_layers=12, num_heads=12, mlp_ratio=4.0, patch_size=16,
            img_size=224)),
        **dict.fromkeys(['s', 'small'], dict(
            embed_dims=384, num_layers=12, num_heads=6, mlp_ratio=4.0, patch_size=16,
            img_size=224)),
        # a CPU-sized ViT: 64 px images, 8x8 patches -> 4x4 units of 2x2 patches
        **dict.fromkeys(['tiny-cpu'], dict(
            embed_dims=192, num_layers=6, num_heads=3, mlp_ratio=4.0, patch_size=8,
            img_size=64)),
    }
    num_prefix_tokens = 1

    def __init__(self,
                 arch='base',
                 img_size: Optional[int] = None,
                 patch_size: Optional[int] = None,
                 in_channels: int = 3,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 out_type: str = 'featmap',
                 attention: str = 'fused',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'unknown arch {arch!r}; expected one of '
                                 f'{sorted(self.arch_zoo)} or a dict')
            settings = dict(self.arch_zoo[arch.lower()])
        else:
            required = {'embed_dims', 'num_layers', 'num_heads'}
            if not isinstance(arch, dict) or not required <= set(arch):
                raise ValueError(f'a custom arch must be a dict with keys {sorted(required)}, '
                                 f'got {arch!r}')
            settings = {**dict(mlp_ratio=4.0, patch_size=16, img_size=224), **arch}
        if out_type not in ('featmap', 'raw', 'cls_token'):
            raise ValueError(f"out_type must be 'featmap', 'raw' or 'cls_token', got {out_type!r}")
        self.out_type = out_type
        if attention not in ('fused', 'explicit'):
            raise ValueError(f"attention must be 'fused' or 'explicit', got {attention!r}")
        self.attention = attention
        self.embed_dims = settings['embed_dims']
        self.num_layers = settings['num_layers']
        self.num_heads = settings['num_heads']
        self.patch_size = int(patch_size or settings['patch_size'])
        self.img_size = int(img_size or settings['img_size'])

        self.patch_embed = PatchEmbed(
            img_size=self.img_size, patch_size=self.patch_size, in_chans=in_channels,
            embed_dim=self.embed_dims, strict_img_size=False)
        self.grid_size: Tuple[int, int] = tuple(self.patch_embed.grid_size)
        num_patches = self.grid_size[0] * self.grid_size[1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, self.embed_dims))
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = torch.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.blocks = nn.ModuleList([
            Block(dim=self.embed_dims, num_heads=self.num_heads,
                  mlp_ratio=settings['mlp_ratio'], qkv_bias=qkv_bias, proj_drop=drop_rate,
                  drop_path=dpr[i], norm_layer=partial(nn.LayerNorm, eps=1e-6))
            for i in range(self.num_layers)
        ])
        self.norm = nn.LayerNorm(self.embed_dims, eps=1e-6)
        self._init_from_scratch()

    def _init_from_scratch(self):
        """timm's ViT initialisation (truncated normal linears, small CLS token)."""
        nn.init.trunc_normal_(self.pos_embed, std=.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if module is not self:  # timm's initialiser would call our own init_weights
                init_weights_vit_timm(module)

    def init_weights(self):
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            load_pretrained_vit(self, cfg['checkpoint'], prefix=cfg.get('prefix'))
            self._is_init = True
            return
        super().init_weights()

    # ---------------------------------------------------------------- entry points
    def embed(self, images: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Patch embedding only.

        Args:
            images: [B, 3, H, W].

        Returns:
            patches [B, h*w, C] (raster order, before CLS token and position embedding) and
            the patch grid (h, w).
        """
        grid = (images.shape[-2] // self.patch_size, images.shape[-1] // self.patch_size)
        return self.patch_embed(images), grid

    def encode(self, patches: torch.Tensor, grid: Tuple[int, int],
               return_attn: bool = False) -> Tuple[torch.Tensor, Optional[List[torch.Tensor]]]:
        """Run the transformer on given patch embeddings.

        Args:
            patches: [B, h*w, C] patch embeddings from :meth:`embed` (possibly modified).
            grid: the patch grid (h, w).
            return_attn: also return each layer's head-averaged attention map. They are
                computed from the saved qkv under ``no_grad``; the blocks always run
                timm's fused attention.

        Returns:
            tokens [B, 1 + h*w, C] after the final norm (CLS first), and a list of
            ``num_layers`` maps [B, 1 + h*w, 1 + h*w] in fp32, or None.
        """
        b = patches.shape[0]
        x = torch.cat([self.cls_token.expand(b, -1, -1), patches], dim=1)
        x = self.pos_drop(x + self._pos_embed_for(grid))
        maps: Optional[List[torch.Tensor]] = [] if return_attn else None
        for block in self.blocks:
            if self.attention == 'explicit':
                x, probs = explicit_block_forward(block, x)
                if return_attn:
                    maps.append(probs.detach().float().mean(dim=1))
                continue
            if not return_attn:
                x = block(x)
                continue
            saved = {}
            handle = block.attn.qkv.register_forward_hook(
                lambda mod, inp, out: saved.__setitem__('qkv', out))
            try:
                x = block(x)
            finally:
                handle.remove()
            maps.append(head_mean_attention(saved['qkv'], block.attn))
        return self.norm(x), maps

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor]:
        """Full forward for a plain classifier: a 1-tuple in the form chosen by ``out_type``."""
        patches, grid = self.embed(images)
        tokens, _ = self.encode(patches, grid)
        if self.out_type == 'raw':
            return (tokens, )
        if self.out_type == 'cls_token':
            return (tokens[:, 0], )
        b, _, c = tokens.shape
        return (tokens[:, 1:].transpose(1, 2).reshape(b, c, *grid), )

    def _pos_embed_for(self, grid: Tuple[int, int]) -> torch.Tensor:
        """[1, 1 + h*w, C] position embedding, resampled when the grid is not the built one."""
        if tuple(grid) == self.grid_size:
            return self.pos_embed
        return resample_abs_pos_embed(self.pos_embed, new_size=list(grid),
                                      old_size=list(self.grid_size), num_prefix_tokens=1)
