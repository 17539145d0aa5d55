"""The semantic context token e and how it is applied to units that are not kept
(docs/method.md, section 3).

e = p2t(v2p(w)^T): the [K, d_w] attribute word vectors w are projected to the patch width
(v2p: [K, d_w] -> [K, C]) and then across attributes to the u*u patches of a unit
(p2t: [C, K] -> [C, u*u]). Ablations: a randomly initialised free token instead of word
vectors (``context_init='random'``), or no token at all (``context_mode='drop'``).
"""
import os
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ...utils.finite import check_finite
from ..utils.arrays import ArrayLike, read_array
from ..utils.choices import check_choice

CONTEXT_MODES = ('add', 'replace', 'drop')
CONTEXT_LAYOUTS = ('unit', 'official')
CONTEXT_INITS = ('word_vectors', 'random')


def read_word_vectors(word_vectors: ArrayLike) -> torch.Tensor:
    """A [K, d] float32 tensor from an array, a nested list or a ``.npy`` path.

    Raises:
        ValueError: not 2-D; a NaN, inf or float32-overflowing value (named with the file,
            attribute row and dimension: the context token would make every loss nan).
    """
    hint = ('expected a .npy array [num_attributes, dim], see '
            'tools/extract_attribute_embeddings.py')
    array = read_array(word_vectors, 'word-vector', hint)
    source = (f'word-vector file {os.fspath(word_vectors)}'
              if isinstance(word_vectors, (str, os.PathLike)) else 'word-vector array')
    if array.ndim == 2:  # checked before the float32 cast, where 1e39 would become inf
        check_finite(array, f'{source} [num_attributes, dim]', axes=('attribute', 'dimension'))
    tensor = torch.as_tensor(array.astype(np.float32))
    if tensor.ndim != 2:
        raise ValueError(f'word vectors must be a 2-D array [num_attributes, dim], got shape '
                         f'{tuple(tensor.shape)}')
    return tensor


def check_context_options(context_mode: str, context_layout: str, context_init: str) -> None:
    """ValueError unless each option is one of its allowed values."""
    check_choice('context_mode', context_mode, CONTEXT_MODES)
    check_choice('context_layout', context_layout, CONTEXT_LAYOUTS)
    check_choice('context_init', context_init, CONTEXT_INITS)


class ContextTokenMixin:
    """The context token's parameters and its application, mixed into an ``nn.Module``.

    Attributes set by :meth:`_init_context_token` (the state-dict keys of the module that
    mixes it in, unchanged from when the selector held them itself):

    - ``word_vectors`` [K, d_w] buffer, ``v2p`` (Linear d_w -> C), ``p2t`` (Linear K -> u*u)
      with ``context_init='word_vectors'``;
    - ``context`` [u*u*C] parameter with ``context_init='random'``;
    - none of them with ``context_mode='drop'`` (unused modules would trouble DDP).
    """

    def _init_context_token(self, in_channels: int, num_attributes: int, unit_size: int,
                            word_vectors: Optional[ArrayLike], context_mode: str,
                            context_layout: str, context_init: str) -> None:
        check_context_options(context_mode, context_layout, context_init)
        self.context_mode, self.context_layout = context_mode, context_layout
        unit_dim = unit_size * unit_size * in_channels
        if context_mode == 'drop':
            # no context token at all: building unused modules would trouble DDP
            self.context = self.v2p = self.p2t = None
        elif context_init == 'random':
            # ablation: a free learned token, randomly initialised, instead of word vectors
            self.context = nn.Parameter(torch.randn(unit_dim) * 0.02)
            self.v2p = self.p2t = None
        else:
            if word_vectors is None:
                raise ValueError("context_init='word_vectors' needs word_vectors (an array or "
                                 "a .npy path of shape [num_attributes, dim])")
            vectors = read_word_vectors(word_vectors)
            if vectors.shape[0] != num_attributes:
                raise ValueError(f'word vectors have {vectors.shape[0]} rows but the model has '
                                 f'num_attributes={num_attributes}; expected one row per '
                                 'attribute, in the dataset\'s attribute order')
            # fixed input of the context token; saved with the model so inference needs no file
            self.register_buffer('word_vectors', vectors)
            self.context = None
            self.v2p = nn.Linear(vectors.shape[1], in_channels)
            self.p2t = nn.Linear(num_attributes, unit_size * unit_size)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """``nn.Module`` loading, refusing a checkpoint whose ``word_vectors`` buffer holds a
        NaN, an inf or a beyond-float32 value (resuming or testing reads the checkpoint's
        copy, not the .npy file, and the context token would make every score nan)."""
        key = prefix + 'word_vectors'
        if key in state_dict:
            check_finite(state_dict[key], f'checkpoint buffer {key!r} [num_attributes, dim]',
                         axes=('attribute', 'dimension'))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def context_token(self) -> torch.Tensor:
        """e = p2t(v2p(w)^T): [K, d_w] -> [K, C] -> [C, K] -> [C, u*u] -> [u*u*C] unit vector."""
        if self.context_mode == 'drop':
            raise RuntimeError("context_mode='drop' has no context token")
        if self.context is not None:
            return self.context
        e = self.p2t(self.v2p(self.word_vectors).transpose(0, 1))  # [C, u*u]
        if self.context_layout == 'official':
            return e.reshape(-1)  # (C, u*u) order, read as a unit vector
        return e.transpose(0, 1).reshape(-1)

    def contextualise_units(self, units: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Apply e to the units that are not kept.

        Args:
            units: [B, U, u*u*C] input units.
            keep: [B, U] bool, True = unit stays as it is.

        Returns:
            [B, U, u*u*C]: kept units unchanged; the others + e (``'add'``), = e
            (``'replace'``) or zero (``'drop'``: only their position embedding remains).
        """
        if self.context_mode == 'drop':
            return units * keep.unsqueeze(-1).to(units.dtype)
        e = self.context_token().to(units.dtype).view(1, 1, -1)
        drop = (~keep).unsqueeze(-1)
        if self.context_mode == 'add':
            return units + drop.to(units.dtype) * e
        return torch.where(drop, e.expand_as(units), units)


@MODELS.register_module()
class SemanticContextToken(ContextTokenMixin, BaseModule):
    """The semantic context token as a component of its own.

    :class:`SemanticPatchSelector` mixes in :class:`ContextTokenMixin` (so its checkpoints
    keep the keys ``neck.v2p.*``, ``neck.p2t.*``, ``neck.word_vectors``, ``neck.context``)
    and forwards these same arguments.

    Args:
        in_channels: C, the patch embedding width.
        num_attributes: K.
        word_vectors: [K, d_w] attribute word vectors: an array or a ``.npy`` path. Required
            unless ``context_init='random'`` or ``context_mode='drop'``.
        unit_size: u, patches per unit side.
        context_mode: ``'add'`` (unit + e, official and Eq. 9), ``'replace'`` (unit = e) or
            ``'drop'`` (ablation "without contextualisation": the unit is set to zero; no
            token, no word vectors).
        context_layout: ``'unit'`` lays e out as [u*u, C] like a unit; ``'official'``
            flattens p2t's [C, u*u] output in (C, u*u) order as the released code does.
        context_init: ``'word_vectors'`` or ``'random'`` (ablation: e is a free learned
            [u*u*C] token; no v2p / p2t). Ignored when ``context_mode='drop'``.
    """

    def __init__(self,
                 in_channels: int,
                 num_attributes: int,
                 word_vectors: Optional[ArrayLike] = None,
                 unit_size: int = 2,
                 context_mode: str = 'add',
                 context_layout: str = 'unit',
                 context_init: str = 'word_vectors',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels, self.num_attributes, self.unit_size = (in_channels, num_attributes,
                                                                 unit_size)
        self._init_context_token(in_channels, num_attributes, unit_size, word_vectors,
                                 context_mode, context_layout, context_init)

    def forward(self, units: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """[B, U, u*u*C] units, [B, U] bool keep -> [B, U, u*u*C] (see
        :meth:`contextualise_units`)."""
        return self.contextualise_units(units, keep)
