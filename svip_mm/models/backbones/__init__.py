from .svip_vit import SVIPVisionTransformer, explicit_block_forward, head_mean_attention
from .vit_checkpoint import load_pretrained_vit, to_timm_vit_keys

__all__ = ['SVIPVisionTransformer', 'explicit_block_forward', 'head_mean_attention', 'load_pretrained_vit',
           'to_timm_vit_keys']
