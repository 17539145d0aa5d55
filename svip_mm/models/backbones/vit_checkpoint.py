"""Loading timm and mmpretrain ViT weights into :class:`SVIPVisionTransformer`.

One place converts foreign key names: timm checkpoints (``.pth`` or ``.safetensors``, e.g.
``vit_base_patch16_224.orig_in21k_ft_in1k``) already use our names; mmpretrain checkpoints
(``backbone.layers.N.ln1`` ...) are renamed. The position embedding is resampled when the
checkpoint's patch grid differs from the model's, and anything that is left missing,
unexpected or of the wrong shape is an error that lists the keys.
"""
import logging
import math
import re
from typing import Dict, Optional

import torch
from mmengine.logging import print_log
from timm.layers import resample_abs_pos_embed

from svip_mm.engine.safe_checkpoint import load_weights_file

# mmpretrain VisionTransformer name -> timm name (regex on the key without 'backbone.')
_MMPRETRAIN_TO_TIMM = [
    (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
    (r'^layers\.(\d+)\.ln1\.', r'blocks.\1.norm1.'),
    (r'^layers\.(\d+)\.ln2\.', r'blocks.\1.norm2.'),
    (r'^layers\.(\d+)\.attn\.', r'blocks.\1.attn.'),
    (r'^layers\.(\d+)\.ffn\.layers\.0\.0\.', r'blocks.\1.mlp.fc1.'),
    (r'^layers\.(\d+)\.ffn\.layers\.1\.', r'blocks.\1.mlp.fc2.'),
    (r'^ln1\.', 'norm.'),
]
# classification heads of the source models: not part of a backbone, dropped with a log line
_CLASSIFIER_KEYS = re.compile(r'^(head|fc_norm|pre_logits|head_dist)\.')


def _strip_prefix(state: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def to_timm_vit_keys(state: Dict[str, torch.Tensor],
                     prefix: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """Normalise a ViT state dict of timm or mmpretrain origin to timm key names.

    Args:
        state: the raw state dict.
        prefix: keep only keys under this prefix (e.g. ``'backbone.'``). By default
            ``module.`` is stripped and, for a whole mmpretrain classifier, ``backbone.``.
    """
    if any(k.startswith('module.') for k in state):
        state = _strip_prefix(state, 'module.')
    if prefix is None and any(k.startswith('backbone.') for k in state):
        prefix = 'backbone.'
    if prefix:
        dropped = sorted(k for k in state if not k.startswith(prefix))
        if dropped:
            print_log(f'ViT loading: ignoring {len(dropped)} keys outside {prefix!r} '
                      f'(e.g. {dropped[:3]})', logger='current', level=logging.INFO)
        state = _strip_prefix(state, prefix)
    if any(k.startswith('layers.') for k in state):  # mmpretrain naming
        renamed = {}
        for key, value in state.items():
            for pattern, repl in _MMPRETRAIN_TO_TIMM:
                key = re.sub(pattern, repl, key)
            renamed[key] = value
        state = renamed
    head = sorted(k for k in state if _CLASSIFIER_KEYS.match(k))
    if head:
        print_log(f'ViT loading: dropping classifier keys {head}', logger='current',
                  level=logging.INFO)
    return {k: v for k, v in state.items() if not _CLASSIFIER_KEYS.match(k)}


def load_pretrained_vit(model: torch.nn.Module, checkpoint: str,
                        prefix: Optional[str] = None) -> None:
    """Load a local timm or mmpretrain ViT weight file into ``model`` (in place).

    Raises:
        FileNotFoundError: the file does not exist.
        KeyError: keys missing from the file or not used by the model (both listed).
        ValueError: a tensor has the wrong shape.
    """
    state = to_timm_vit_keys(load_weights_file(checkpoint), prefix)
    own = model.state_dict()
    pos = state.get('pos_embed')
    if pos is not None and pos.shape != own['pos_embed'].shape and pos.shape[-1] == \
            own['pos_embed'].shape[-1]:
        old_side = math.isqrt(pos.shape[1] - 1)
        if old_side * old_side != pos.shape[1] - 1:
            raise ValueError(f'{checkpoint}: pos_embed has {pos.shape[1]} tokens, which is not '
                             '1 + a square grid')
        print_log(f'ViT loading: resampling pos_embed from a {old_side}x{old_side} grid to '
                  f'{model.grid_size}', logger='current', level=logging.INFO)
        state['pos_embed'] = resample_abs_pos_embed(
            pos, new_size=list(model.grid_size), old_size=[old_side, old_side],
            num_prefix_tokens=1)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise KeyError(f'{checkpoint} does not fit {type(model).__name__}: '
                       f'missing keys {missing}; unexpected keys {unexpected}')
    wrong = [f'{k}: file {tuple(state[k].shape)}, model {tuple(own[k].shape)}'
             for k in own if state[k].shape != own[k].shape]
    if wrong:
        raise ValueError(f'{checkpoint}: tensors of the wrong shape: ' + '; '.join(wrong))
    model.load_state_dict(state, strict=True)
    print_log(f'ViT loading: loaded {len(state)} tensors from {checkpoint}', logger='current',
              level=logging.INFO)
