"""Converting an official SVIP training checkpoint into an svip_mm checkpoint
(docs/method.md, section 8).

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

A conversion never hands back a model that does not fit: :func:`convert_official_state`
infers the architecture from the tensor shapes (each setting from every tensor that shows
it, so that a single wrong tensor is outvoted and then named), and
:func:`check_against_model` builds the model those settings describe and compares every
converted tensor's shape with it, the way ``SVIPCheckpointHook`` checks a checkpoint before
test, resume and ``load_from``. Every problem is an :class:`OfficialCheckpointError` whose
message is one line.
"""
import math
import pickle
import warnings
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

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
# parts of the official network that SVIP never uses (the ViT's own classifier, which the
# official model builds but never calls): dropped on purpose, not reported
DROPPED = ('head.weight', 'head.bias')
# keys the architecture is read from
_REQUIRED = ('patch_embed.proj.weight', 'pos_embed', 'head_1.weight', 'token_cls.0.weight',
             'v2p.weight', 'p2t.weight')
_SHOWN = 8  # keys listed per kind of problem


class OfficialCheckpointError(ValueError):
    """An official checkpoint (or its word vectors) that cannot be converted faithfully."""


def _one_line(text: str) -> str:
    return ' '.join(str(text).split())


def read_official_checkpoint(path: str) -> dict:
    """Unpickle an official checkpoint (UNSAFE: only for files you trust)."""
    warnings.warn(
        f'{path}: official SVIP checkpoints pickle Python objects (argparse.Namespace) and are '
        'read with torch.load(weights_only=False), which can run arbitrary code. Convert only '
        'files from a source you trust; the converted file loads with weights_only=True.',
        UserWarning, stacklevel=2)
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:  # any failure to unpickle means: not a readable checkpoint
        raise OfficialCheckpointError(
            f'{path}: cannot be read as a torch checkpoint ({type(e).__name__}: '
            f'{_one_line(e)})') from e
    if not isinstance(ckpt, dict) or 'network' not in ckpt:
        keys = sorted(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise OfficialCheckpointError(
            f"{path}: not an official SVIP checkpoint: expected a dict with a 'network' state "
            f'dict, found {keys}')
    if not isinstance(ckpt['network'], dict):
        raise OfficialCheckpointError(f"{path}: 'network' is a {type(ckpt['network']).__name__}, "
                                      'expected a state dict of tensors')
    return ckpt


def read_official_word_vectors(path: str) -> np.ndarray:
    """The official word-vector pickle: a [K, d] array (UNSAFE unpickling, see above)."""
    try:
        with open(path, 'rb') as f:
            vectors = pickle.load(f)
        vectors = np.asarray(vectors, dtype=np.float32)
    except Exception as e:  # unreadable or not numeric: say which file
        raise OfficialCheckpointError(
            f'{path}: cannot be read as a pickled [num_attributes, dim] array '
            f'({type(e).__name__}: {_one_line(e)})') from e
    if vectors.ndim != 2:
        raise OfficialCheckpointError(f'{path}: expected a [num_attributes, dim] array, got '
                                      f'shape {vectors.shape}')
    return vectors


def official_name(key: str) -> str:
    """The official network key an svip_mm state-dict key comes from (unknown keys keep
    their official name, see :func:`convert_official_state`)."""
    if key.startswith('backbone.'):
        return key[len('backbone.'):]
    for old, new in _RENAME.items():
        if key.startswith(new):
            return old + key[len(new):]
    return key


def _shape(network: Dict[str, torch.Tensor], key: str) -> Optional[Tuple[int, ...]]:
    value = network.get(key)
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def _dim(network, key: str, axis: int, divisor: int = 1) -> Optional[int]:
    """Size of ``network[key]`` along ``axis`` (divided by ``divisor`` when it divides), or
    None when the key, the axis or an exact quotient is absent."""
    shape = _shape(network, key)
    if shape is None or not -len(shape) <= axis < len(shape):
        return None
    size = shape[axis]
    return size // divisor if divisor and size % divisor == 0 else None


def _vote(evidence: Sequence[Tuple[str, Optional[int]]]) -> Optional[int]:
    """The value most tensors show (ties: the first listed). One wrong tensor among several
    is outvoted, so the model built from the result names that tensor as wrong-shaped."""
    values = [v for _, v in evidence if v is not None and v > 0]
    if not values:
        return None
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def _fmt(shape: Optional[Iterable[int]]) -> str:
    return str(list(shape)) if shape is not None else 'absent'


def convert_official_state(network: Dict[str, torch.Tensor], word_vectors: np.ndarray,
                           source: str = 'the official checkpoint'
                           ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Rename the official ``network`` into SVIPClassifier keys and read its shapes.

    Keys in :data:`DROPPED` are left out; keys svip_mm does not know keep their official name
    in the returned state, so that :func:`check_against_model` reports them with the rest.

    Returns:
        the svip_mm state dict (``backbone.*``, ``neck.*``, ``head.fc.*``) and a dict of the
        architecture it implies (embed_dims, num_layers, patch_size, img_size,
        num_attributes, unit_size, hidden_channels, word_dim).

    Raises:
        OfficialCheckpointError: a key the architecture is read from is absent, the position
            embedding is not a square grid of whole units, or the word vectors do not fit.
    """
    missing = [k for k in _REQUIRED if _shape(network, k) is None]
    if missing:
        raise OfficialCheckpointError(f'{source}: the official network lacks {missing} (the '
                                      'architecture is read from them)')
    state: Dict[str, torch.Tensor] = {}
    for key, value in network.items():
        if key in DROPPED:
            continue
        if key.startswith(_VIT_PREFIXES):
            state['backbone.' + key] = value
            continue
        for old, new in _RENAME.items():
            if key.startswith(old):
                state[new + key[len(old):]] = value
                break
        else:
            state[key] = value  # maps to nothing: reported by check_against_model

    n = network
    embed_dims = _vote([(k, _dim(n, k, a)) for k, a in (
        ('patch_embed.proj.weight', 0), ('patch_embed.proj.bias', 0), ('cls_token', -1),
        ('pos_embed', -1), ('norm.weight', 0), ('norm.bias', 0), ('v2p.weight', 0),
        ('v2p.bias', 0))])
    patch_size = _vote([('patch_embed.proj.weight', _dim(n, 'patch_embed.proj.weight', -1)),
                        ('patch_embed.proj.weight', _dim(n, 'patch_embed.proj.weight', -2))])
    num_attributes = _vote([(k, _dim(n, k, a)) for k, a in (
        ('head_1.weight', 0), ('head_1.bias', 0), ('p2t.weight', -1))])
    # u*u: patches per unit, from the context token's outputs and the unit-wide inputs
    unit_area = _vote([('p2t.weight', _dim(n, 'p2t.weight', 0)),
                       ('p2t.bias', _dim(n, 'p2t.bias', 0)),
                       ('head_1.weight', _dim(n, 'head_1.weight', -1, embed_dims)),
                       ('token_cls.0.weight', _dim(n, 'token_cls.0.weight', -1, embed_dims))])
    hidden = _vote([(k, _dim(n, k, a)) for k, a in (
        ('token_cls.0.weight', 0), ('token_cls.0.bias', 0), ('token_cls.2.weight', -1))])
    for name, value, keys in [('embed_dims', embed_dims, 'patch_embed.proj.weight'),
                              ('patch_size', patch_size, 'patch_embed.proj.weight'),
                              ('num_attributes', num_attributes, 'head_1.weight'),
                              ('unit size', unit_area, 'p2t.weight'),
                              ('selector width', hidden, 'token_cls.0.weight')]:
        if value is None:
            raise OfficialCheckpointError(f'{source}: cannot read the {name} from {keys} '
                                          f'{_fmt(_shape(n, keys))}')
    unit_size = math.isqrt(unit_area)
    if unit_size * unit_size != unit_area:
        raise OfficialCheckpointError(
            f"{source}: p2t.weight {_fmt(_shape(n, 'p2t.weight'))} has {unit_area} outputs, "
            'not the u*u patches of a square unit; expected [u*u, num_attributes], e.g. '
            f'{_fmt([4, num_attributes])} for 2x2 units')

    # the patch grid: pos_embed is [1, 1 + side*side, C]; a count that is not a square (or
    # not whole units) would silently give another input size, so it is refused
    pos = _shape(n, 'pos_embed')
    positions = pos[-2] - 1 if len(pos) >= 2 else 0  # a wrong batch axis: the model check
    side = math.isqrt(positions) if positions > 0 else 0
    if side == 0 or side * side != positions:
        near = max(1, round(math.sqrt(max(positions, 1))))
        raise OfficialCheckpointError(
            f'{source}: pos_embed has shape {_fmt(pos)}: {positions} patch positions do not '
            f'form a square grid; expected [1, 1 + n*n, {embed_dims}] for an n x n grid of '
            f'patches (nearest: {_fmt([1, 1 + near * near, embed_dims])})')
    if side % unit_size:
        lower = side - side % unit_size
        raise OfficialCheckpointError(
            f'{source}: pos_embed has shape {_fmt(pos)}: a {side}x{side} patch grid does not '
            f'divide into {unit_size}x{unit_size} units (unit size from p2t.weight '
            f"{_fmt(_shape(n, 'p2t.weight'))}); expected [1, 1 + n*n, {embed_dims}] with n a "
            f'multiple of {unit_size}, e.g. {_fmt([1, 1 + lower * lower, embed_dims])}')

    if tuple(word_vectors.shape) != (num_attributes, _dim(n, 'v2p.weight', -1)):
        raise OfficialCheckpointError(
            f'word vectors have shape {tuple(word_vectors.shape)}; the checkpoint expects '
            f"[{num_attributes}, {_dim(n, 'v2p.weight', -1)}] (num_attributes from head_1, dim "
            'from v2p)')
    state['neck.word_vectors'] = torch.from_numpy(np.ascontiguousarray(word_vectors))
    # the highest block index, so that a block absent from the file is reported as missing
    blocks = [k.split('.')[1] for k in network if k.startswith('blocks.')]
    depth = max((int(b) for b in blocks if b.isdigit()), default=-1) + 1
    arch = dict(embed_dims=embed_dims, num_layers=depth, patch_size=patch_size,
                img_size=side * patch_size, num_attributes=num_attributes,
                unit_size=unit_size, hidden_channels=hidden,
                word_dim=int(word_vectors.shape[1]))
    return state, arch


def official_args_to_options(args) -> dict:
    """The SVIP options implied by the official run's argparse arguments (if present)."""
    get = (lambda name, default: getattr(args, name, default)) if args is not None else (
        lambda name, default: default)
    return dict(keep_k=int(get('keep_token', 40)), pooling=str(get('pool', 'mean')),
                dataset=str(get('dataset', 'unknown')))


def official_model_settings(arch: dict, options: dict, num_heads: int, word_vectors) -> dict:
    """Model config (without num_classes and the data preprocessor) that reproduces the
    official inference path. ``word_vectors``: what the neck's ``word_vectors`` gets (an
    array or a ``.npy`` path)."""
    return dict(
        type='SVIPClassifier',
        backbone=dict(type='SVIPVisionTransformer',
                      arch=dict(embed_dims=arch['embed_dims'], num_layers=arch['num_layers'],
                                num_heads=num_heads),
                      patch_size=arch['patch_size'], img_size=arch['img_size']),
        neck=dict(type='SemanticPatchSelector', in_channels=arch['embed_dims'],
                  num_attributes=arch['num_attributes'], keep_k=options['keep_k'],
                  word_vectors=word_vectors, unit_size=arch['unit_size'],
                  hidden_channels=arch['hidden_channels'], context_layout='official',
                  label_grouping='official_raster'),
        head=dict(type='SemanticAttributeHead', num_attributes=arch['num_attributes'],
                  in_channels=arch['embed_dims'], unit_size=arch['unit_size'],
                  pooling=options['pooling'], similarity='dot', scale=5.0, eval_units='all'))


def _listing(items: List[str]) -> str:
    more = f' ... and {len(items) - _SHOWN} more' if len(items) > _SHOWN else ''
    return ', '.join(items[:_SHOWN]) + more


def check_against_model(state: Dict[str, torch.Tensor], arch: dict, settings: dict,
                        source: str = 'the official checkpoint') -> None:
    """Build the model ``settings`` describe and compare ``state`` with its state dict:
    every tensor must have the model's shape, every model tensor must be present (except
    the class-table buffers the dataset fills, as in ``SVIPCheckpointHook``) and no tensor
    may be left over.

    Raises:
        OfficialCheckpointError: one line naming each wrong-shaped (with its shape and the
            expected one), missing and left-over key by its official name.
    """
    from mmpretrain.registry import MODELS

    from .heads.class_table import class_table_buffers

    summary = (f"ViT {arch['embed_dims']}-d, {arch['num_layers']} layers, "
               f"{settings['backbone']['arch']['num_heads']} heads, patch {arch['patch_size']}, "
               f"{arch['img_size']} px; {arch['num_attributes']} attributes, "
               f"{arch['unit_size']}x{arch['unit_size']} units, selector width "
               f"{arch['hidden_channels']}, keep_k {settings['neck']['keep_k']}")
    heads = settings['backbone']['arch']['num_heads']
    if arch['embed_dims'] % heads:
        raise OfficialCheckpointError(
            f"{source}: {heads} attention heads do not divide the embedding width "
            f"{arch['embed_dims']} (from patch_embed.proj.weight); give the number of heads "
            '(--num-heads)')
    units = (arch['img_size'] // arch['patch_size'] // arch['unit_size']) ** 2
    if not 1 <= settings['neck']['keep_k'] < units:
        raise OfficialCheckpointError(
            f"{source}: the official arguments keep {settings['neck']['keep_k']} units "
            f'(keep_token), but the model ({summary}) has {units} units; expected 1 .. '
            f'{units - 1}')
    cfg = dict(settings, head=dict(settings['head'], num_classes=1))  # class table: exempt
    try:
        with torch.random.fork_rng(devices=[]):  # building draws random weights
            model = MODELS.build(cfg)
    except Exception as e:  # the settings are read from the file: say so, in one line
        raise OfficialCheckpointError(
            f'{source}: the settings read from it ({summary}) do not build a model: '
            f'{type(e).__name__}: {_one_line(e)}') from e
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    exempt = set(class_table_buffers(model))
    got = {k: tuple(getattr(v, 'shape', ())) for k, v in state.items()}
    wrong = [f'{official_name(k)} {_fmt(got[k])}, expected {_fmt(shape)}'
             for k, shape in expected.items() if k in got and got[k] != shape]
    missing = [f'{official_name(k)} (expected {_fmt(shape)})'
               for k, shape in expected.items() if k not in got and k not in exempt]
    extra = [f'{official_name(k)} {_fmt(got[k])}' for k in got if k not in expected]
    if wrong or missing or extra:
        parts = [f'{label} ({len(items)}): {_listing(items)}'
                 for label, items in (('wrong shape', wrong), ('missing', missing),
                                      ('no place in the model', extra)) if items]
        raise OfficialCheckpointError(
            f'{source} does not fit the model its shapes describe ({summary}): '
            + '; '.join(parts))
