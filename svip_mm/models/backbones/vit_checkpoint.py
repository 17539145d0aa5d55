"""Loading timm and mmpretrain ViT weights into :class:`SVIPVisionTransformer`.

One place converts foreign key names: timm checkpoints (``.pth`` or ``.safetensors``, e.g.
``vit_base_patch16_224.orig_in21k_ft_in1k``) already use our names; mmpretrain checkpoints
(``backbone.layers.N.ln1`` ...) are renamed. The position embedding is resampled when the
checkpoint's patch grid differs from the model's, and anything that is left missing,
unexpected or of the wrong shape is an error that lists the keys.

The checkpoint is named in one of three ways (:func:`resolve_pretrained_checkpoint`):

- a local file (``.pth`` / ``.safetensors`` / mmpretrain checkpoint);
- a timm hub name, ``timm/NAME`` (or ``hf-hub:OWNER/NAME``): huggingface_hub's
  ``hf_hub_download`` fetches timm's hub file (``model.safetensors``, else
  ``pytorch_model.bin``) into its cache, or finds it there; it honours ``HF_HUB_OFFLINE``,
  ``HF_HOME`` and ``HF_HUB_CACHE``;
- an ``http(s)://`` URL: torch.hub's ``download_url_to_file`` into
  ``torch.hub.get_dir()/checkpoints`` (the cache ``torch.hub.load_state_dict_from_url`` and
  MMEngine use), reused when the file is there.

Whatever the source, the file is then read by :func:`load_weights_file` (safetensors or the
safe unpickler), never by ``torch.hub``'s or MMEngine's own ``torch.load``.
"""
import logging
import math
import os
import re
from typing import Dict, Optional

import torch
from mmengine.logging import print_log
from timm.layers import resample_abs_pos_embed

from svip_mm.utils.safe_checkpoint import load_weights_file, url_cache_file

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


class PretrainedWeightsUnavailable(FileNotFoundError):
    """Weights named by a hub name or URL are neither cached nor downloadable now."""


# timm's hub layout: the files timm itself looks for, in its order of preference
_HUB_FILES = ('model.safetensors', 'pytorch_model.bin')
_HUB_PREFIX = 'hf-hub:'
# 'timm/NAME' with no path separators and no weight-file suffix (which would mean a local file)
_TIMM_HUB_NAME = re.compile(r'timm/[A-Za-z0-9_.-]+')
_WEIGHT_SUFFIXES = ('.pth', '.pt', '.bin', '.safetensors', '.ckpt')
_LOCAL_ALTERNATIVE = "init_cfg=dict(type='Pretrained', checkpoint=PATH) with PATH a local copy"


def hub_repo_id(checkpoint: str) -> Optional[str]:
    """The hub repository a checkpoint name points to, or None for a path or URL.

    ``hf-hub:OWNER/NAME`` always names a repository; ``timm/NAME`` does unless a local file
    of that name exists (a local file always wins).
    """
    if checkpoint.startswith(_HUB_PREFIX):
        return checkpoint[len(_HUB_PREFIX):]
    if _TIMM_HUB_NAME.fullmatch(checkpoint) and not checkpoint.endswith(_WEIGHT_SUFFIXES) \
            and not os.path.exists(checkpoint):
        return checkpoint
    return None


def _download_from_hub(checkpoint: str, repo_id: str) -> str:
    """Path of the repository's timm weight file in huggingface_hub's cache (fetched if needed)."""
    from huggingface_hub import constants, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import (EntryNotFoundError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError)
    from huggingface_hub.file_download import repo_folder_name

    not_local = None
    for filename in _HUB_FILES:
        try:
            # once the hub proved unreachable, look only in the cache (no second retry wait)
            return hf_hub_download(repo_id=repo_id, filename=filename,
                                   local_files_only=not_local is not None)
        # a subclass of EntryNotFoundError: not cached, and offline or the hub unreachable
        except LocalEntryNotFoundError as err:
            not_local = not_local or err
        except EntryNotFoundError:  # the hub answered: no such file, try timm's other layout
            continue
        except RepositoryNotFoundError as err:
            raise PretrainedWeightsUnavailable(
                f'pretrained checkpoint {checkpoint!r}: the hub has no repository {repo_id!r} '
                f'(or it is private or gated); expected a timm model name such as '
                f"'timm/vit_base_patch16_224.orig_in21k_ft_in1k', or {_LOCAL_ALTERNATIVE}"
            ) from err
    if not_local is None:
        raise PretrainedWeightsUnavailable(
            f'pretrained checkpoint {checkpoint!r}: the hub repository {repo_id!r} holds none '
            f'of {list(_HUB_FILES)} (timm\'s weight files); use {_LOCAL_ALTERNATIVE}')
    # constants are read now, not at import: a cache moved later (HF_HUB_CACHE) is named right
    folder = os.path.join(constants.HF_HUB_CACHE,
                          repo_folder_name(repo_id=repo_id, repo_type='model'))
    why = 'HF_HUB_OFFLINE is set' if constants.HF_HUB_OFFLINE else \
        f'the hub could not be reached: {not_local}'
    raise PretrainedWeightsUnavailable(
        f'pretrained checkpoint {checkpoint!r} is not in the Hugging Face cache and cannot be '
        f'downloaded ({why}). Either download it on a machine with internet '
        f'(`hf download {repo_id} {_HUB_FILES[0]}`) and copy its cache folder to {folder} '
        f'(snapshots/<commit>/{_HUB_FILES[0]}, refs/main, blobs; or point HF_HUB_CACHE at a '
        f'cache holding it), or download {hf_hub_url(repo_id, _HUB_FILES[0])} and use '
        f'{_LOCAL_ALTERNATIVE}.') from not_local


def _download_from_url(url: str) -> str:
    """Path of the URL's file in torch.hub's checkpoint cache (downloaded if not there)."""
    return url_cache_file(url, what='pretrained checkpoint', error=PretrainedWeightsUnavailable,
                          alternative=f'use {_LOCAL_ALTERNATIVE}')


def resolve_pretrained_checkpoint(checkpoint: str) -> str:
    """The local file a checkpoint name stands for: a path, a timm hub name or a URL.

    Hub names and URLs are fetched into (or found in) their library's cache; see the module
    docstring.

    Raises:
        FileNotFoundError: a local path that does not exist.
        PretrainedWeightsUnavailable: (a FileNotFoundError) a hub name or URL that is not
            cached and cannot be downloaded now; the message says what to download and where.
    """
    checkpoint = os.fspath(checkpoint)
    if checkpoint.startswith(('http://', 'https://')):
        return _download_from_url(checkpoint)
    repo_id = hub_repo_id(checkpoint)
    if repo_id is not None:
        return _download_from_hub(checkpoint, repo_id)
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(
            f'pretrained checkpoint {checkpoint!r}: no such file; expected a local weight file '
            "(.pth / .safetensors), a timm hub name 'timm/NAME' or an http(s):// URL")
    return checkpoint


def load_pretrained_vit(model: torch.nn.Module, checkpoint: str,
                        prefix: Optional[str] = None) -> None:
    """Load timm or mmpretrain ViT weights into ``model`` (in place).

    Args:
        checkpoint: a local file, a timm hub name (``timm/NAME``) or an ``http(s)://`` URL,
            see :func:`resolve_pretrained_checkpoint`.
        prefix: see :func:`to_timm_vit_keys`.

    Raises:
        FileNotFoundError: the file does not exist, or (``PretrainedWeightsUnavailable``)
            a hub name / URL is neither cached nor downloadable.
        KeyError: keys missing from the file or not used by the model (both listed).
        ValueError: a tensor has the wrong shape.
    """
    path = resolve_pretrained_checkpoint(checkpoint)
    if path != checkpoint:  # errors below name both the name and the file it resolved to
        checkpoint = f'{checkpoint} ({path})'
    state = to_timm_vit_keys(load_weights_file(path), prefix)
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
