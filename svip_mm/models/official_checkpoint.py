"""Converting an official SVIP training checkpoint into an svip_mm checkpoint (spec, section 8).

The official file is ``torch.save({'epoch', 'args', 'best_accs', 'best_stacked_accs',
'network', 'optimizer', ...})``; ``network`` holds timm-named ViT keys plus ``head_1``
(attribute head), ``token_cls.0`` / ``token_cls.2`` (selector MLP), ``v2p`` and ``p2t``. The
word vectors live in a separate pickle ([K, 300] float64). Reading the checkpoint needs the
unsafe unpickler (it pickles an argparse Namespace), so this happens once, with a warning,
and the result is a plain ``{'meta', 'state_dict'}`` file that loads with
``weights_only=True``.

The official model's behaviour is kept through config options rather than code: the
context token's (C, 4) flattening (``context_layout='official'``), the head over all units
at inference (``eval_units='all'``) and the pooling named in its arguments.
"""
import math
import pickle
import warnings
from typing import Dict, Tuple

import numpy as np
import torch

_VIT_PREFIXES = ('patch_embed.', 'cls_token', 'pos_embed', 'blocks.', 'norm.')
_RENAME = {
    'head_1.': 'head.fc.',
    'token_cls.0.': 'neck.selector.0.',
    'token_cls.2.': 'neck.selector.2.',
    'v2p.': 'neck.v2p.',
    'p2t.': 'neck.p2t.',
}
# parts of the official network that SVIP never uses (timm's ImageNet classifier)
_UNUSED = ('head.weight', 'head.bias')


def read_official_checkpoint(path: str) -> dict:
    """Unpickle an official checkpoint (UNSAFE: only for files you trust)."""
    warnings.warn(
        f'{path}: official SVIP checkpoints pickle Python objects (argparse.Namespace) and are '
        'read with torch.load(weights_only=False), which can run arbitrary code. Convert only '
        'files from a source you trust; the converted file loads with weights_only=True.',
        UserWarning, stacklevel=2)
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    if not isinstance(ckpt, dict) or 'network' not in ckpt:
        keys = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise KeyError(f"{path}: not an official SVIP checkpoint: expected a dict with a "
                       f"'network' state dict, found {keys}")
    return ckpt


def read_official_word_vectors(path: str) -> np.ndarray:
    """The official word-vector pickle: a [K, d] array (UNSAFE unpickling, see above)."""
    with open(path, 'rb') as f:
        vectors = pickle.load(f)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f'{path}: expected a [num_attributes, dim] array, got shape '
                         f'{vectors.shape}')
    return vectors


def convert_official_state(network: Dict[str, torch.Tensor],
                           word_vectors: np.ndarray) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Rename the official ``network`` into SVIPClassifier keys and read its shapes.

    Returns:
        the svip_mm state dict (``backbone.*``, ``neck.*``, ``head.fc.*``) and a dict of the
        architecture it implies (embed_dims, depth, patch_size, img_size, num_attributes,
        unit_size, hidden_channels, word_dim).
    """
    required = ['head_1.weight', 'token_cls.0.weight', 'token_cls.2.weight', 'v2p.weight',
                'p2t.weight', 'patch_embed.proj.weight', 'pos_embed']
    missing = [k for k in required if k not in network]
    if missing:
        raise KeyError(f'official network state lacks {missing}')
    state: Dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in network.items():
        if key in _UNUSED:
            continue
        if key.startswith(_VIT_PREFIXES):
            state['backbone.' + key] = value
            continue
        for old, new in _RENAME.items():
            if key.startswith(old):
                state[new + key[len(old):]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise KeyError(f'official network has keys svip_mm does not know: {sorted(unknown)}')

    embed_dims = network['patch_embed.proj.weight'].shape[0]
    patch_size = network['patch_embed.proj.weight'].shape[-1]
    grid_side = math.isqrt(network['pos_embed'].shape[1] - 1)
    num_attributes = network['head_1.weight'].shape[0]
    units_per_side = network['p2t.weight'].shape[0]  # u*u outputs
    unit_size = math.isqrt(units_per_side)
    if network['head_1.weight'].shape[1] != unit_size * unit_size * embed_dims:
        raise ValueError('head_1 input width does not match u*u*C: '
                         f"{network['head_1.weight'].shape[1]} vs "
                         f'{unit_size}*{unit_size}*{embed_dims}')
    if tuple(word_vectors.shape) != (num_attributes, network['v2p.weight'].shape[1]):
        raise ValueError(f'word vectors have shape {tuple(word_vectors.shape)}; the checkpoint '
                         f"expects [{num_attributes}, {network['v2p.weight'].shape[1]}] "
                         '(num_attributes from head_1, dim from v2p)')
    state['neck.word_vectors'] = torch.from_numpy(np.ascontiguousarray(word_vectors))
    depth = len({k.split('.')[1] for k in network if k.startswith('blocks.')})
    arch = dict(embed_dims=embed_dims, num_layers=depth, patch_size=patch_size,
                img_size=grid_side * patch_size, num_attributes=num_attributes,
                unit_size=unit_size, hidden_channels=network['token_cls.0.weight'].shape[0],
                word_dim=int(word_vectors.shape[1]))
    return state, arch


def official_args_to_options(args) -> dict:
    """The SVIP options implied by the official run's argparse arguments (if present)."""
    get = (lambda name, default: getattr(args, name, default)) if args is not None else (
        lambda name, default: default)
    return dict(keep_k=int(get('keep_token', 40)), pooling=str(get('pool', 'mean')),
                dataset=str(get('dataset', 'unknown')))
