"""The SVIP patch selector and semantic context token (spec, sections 2 and 3).

The "neck" works at the *input* of the transformer:

* it scores each unit of input patch embeddings as semantic-unrelated (selector MLP),
* it turns the source pass's attention maps into keep sets and selector labels,
* it builds the context token e from the attribute word vectors and applies it to the
  units that are not kept.
"""
import os
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import (check_unit_grid, patch_scores_to_unit_scores, patches_to_units, topk_mask,
                     units_to_patches)
from .attention_aggregation import aggregate_cls_attention

ArrayLike = Union[str, os.PathLike, np.ndarray, torch.Tensor, list]


def _read_word_vectors(word_vectors: ArrayLike) -> torch.Tensor:
    """A [K, d] float32 tensor from an array, a nested list or a ``.npy`` path."""
    if isinstance(word_vectors, (str, os.PathLike)):
        path = os.fspath(word_vectors)
        if not os.path.isfile(path):
            raise FileNotFoundError(f'word-vector file not found: {path!r} (expected a .npy '
                                    'array [num_attributes, dim], see '
                                    'tools/extract_attribute_embeddings.py)')
        word_vectors = np.load(path, allow_pickle=False)
    tensor = torch.as_tensor(np.asarray(word_vectors, dtype=np.float32))
    if tensor.ndim != 2:
        raise ValueError(f'word vectors must be a 2-D array [num_attributes, dim], got shape '
                         f'{tuple(tensor.shape)}')
    return tensor


@MODELS.register_module()
class SemanticPatchSelector(BaseModule):
    """Semantic patch selector with a word-vector context token.

    Args:
        in_channels: C, the patch embedding width.
        num_attributes: K.
        keep_k: units kept per image (40 of 49 on CUB); 1 <= k <= units - 1.
        word_vectors: [K, d_w] attribute word vectors: an array or a ``.npy`` path. Required
            unless ``context_init='random'``.
        unit_size: u, patches per unit side (2 in the paper; 1 = single patches).
        hidden_channels: width of the selector MLP.
        aggregation: ``'rollout'`` (official, default), ``'paper'`` (Eq. 4) or ``'last'``.
        label_grouping: ``'block'`` (correct u x u grouping) or ``'official_raster'``, which
            reproduces the released code's scrambled per-unit averaging.
        context_mode: ``'add'`` (unit + e, official and Eq. 9), ``'replace'`` (unit = e) or
            ``'drop'`` (ablation "without contextualisation": the unit's embedding is set to
            zero, so its tokens carry only their position embedding; no context token, no
            word vectors).
        context_layout: ``'unit'`` lays e out as [u*u, C] like a unit; ``'official'``
            flattens p2t's [C, u*u] output in (C, u*u) order as the released code does
            (needed to reproduce converted official checkpoints exactly).
        context_init: ``'word_vectors'`` or ``'random'`` (ablation: e is a free learned
            [u*u*C] token with random initialisation; no v2p / p2t). Ignored when
            ``context_mode='drop'``.
        loss: config of the selector loss (:class:`SVIPSelectorLoss`).
    """

    def __init__(self,
                 in_channels: int,
                 num_attributes: int,
                 keep_k: int,
                 word_vectors: Optional[ArrayLike] = None,
                 unit_size: int = 2,
                 hidden_channels: int = 512,
                 aggregation: str = 'rollout',
                 label_grouping: str = 'block',
                 context_mode: str = 'add',
                 context_layout: str = 'unit',
                 context_init: str = 'word_vectors',
                 loss: dict = dict(type='SVIPSelectorLoss', mode='bce', loss_weight=3.0),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        for name, value, allowed in [
                ('aggregation', aggregation, ('rollout', 'paper', 'last')),
                ('label_grouping', label_grouping, ('block', 'official_raster')),
                ('context_mode', context_mode, ('add', 'replace', 'drop')),
                ('context_layout', context_layout, ('unit', 'official')),
                ('context_init', context_init, ('word_vectors', 'random'))]:
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
        if not isinstance(keep_k, int) or keep_k < 1:
            raise ValueError(f'keep_k must be an integer >= 1, got {keep_k!r}')
        if unit_size < 1:
            raise ValueError(f'unit_size must be >= 1, got {unit_size}')
        self.in_channels, self.num_attributes = in_channels, num_attributes
        self.keep_k, self.unit_size = keep_k, unit_size
        self.aggregation, self.label_grouping = aggregation, label_grouping
        self.context_mode, self.context_layout = context_mode, context_layout
        unit_dim = unit_size * unit_size * in_channels

        self.selector = nn.Sequential(
            nn.Linear(unit_dim, hidden_channels), nn.ReLU(), nn.Linear(hidden_channels, 1))
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
            vectors = _read_word_vectors(word_vectors)
            if vectors.shape[0] != num_attributes:
                raise ValueError(f'word vectors have {vectors.shape[0]} rows but the model has '
                                 f'num_attributes={num_attributes}; expected one row per '
                                 'attribute, in the dataset\'s attribute order')
            # fixed input of the context token; saved with the model so inference needs no file
            self.register_buffer('word_vectors', vectors)
            self.context = None
            self.v2p = nn.Linear(vectors.shape[1], in_channels)
            self.p2t = nn.Linear(num_attributes, unit_size * unit_size)
        self.loss_module = MODELS.build(loss)

    # ------------------------------------------------------------ selection
    def num_units(self, grid: Tuple[int, int]) -> int:
        uh, uw = check_unit_grid(grid, self.unit_size)
        units = uh * uw
        if not 1 <= self.keep_k <= units - 1:
            raise ValueError(f'keep_k={self.keep_k} is outside 1..{units - 1} for a '
                             f'{grid[0]}x{grid[1]} patch grid with unit_size={self.unit_size} '
                             f'({units} units)')
        return units

    def selector_logits(self, patches: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        """[B, h*w, C] input patch embeddings -> [B, U] "semantic-unrelated" logits."""
        self.num_units(grid)
        return self.selector(patches_to_units(patches, grid, self.unit_size)).squeeze(-1)

    def attention_unit_scores(self, maps: List[torch.Tensor], grid: Tuple[int, int],
                              num_heads: int) -> torch.Tensor:
        """Per-layer attention maps [B, N, N] -> [B, U] aggregated CLS relevance per unit."""
        patch_scores = aggregate_cls_attention(maps, self.aggregation, num_heads)
        return patch_scores_to_unit_scores(patch_scores, grid, self.unit_size,
                                           self.label_grouping)

    def keep_from_attention(self, unit_scores: torch.Tensor) -> torch.Tensor:
        """[B, U] attention scores -> [B, U] bool mask of the k most attended units."""
        return topk_mask(unit_scores.detach(), self.keep_k, largest=True)

    def keep_from_selector(self, logits: torch.Tensor) -> torch.Tensor:
        """[B, U] selector logits -> [B, U] bool mask of the k least "unrelated" units."""
        return topk_mask(logits.detach(), self.keep_k, largest=False)

    def loss(self, logits: torch.Tensor, keep: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Selector loss against labels 1 = not kept; also logs the selector's accuracy."""
        labels = (~keep).float()
        with torch.no_grad():
            acc = ((logits > 0).float() == labels).float().mean() * 100
        return dict(loss_selector=self.loss_module(logits, labels), selector_acc=acc)

    # ------------------------------------------------------------ context token
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

    def contextualise(self, patches: torch.Tensor, keep: torch.Tensor,
                      grid: Tuple[int, int]) -> torch.Tensor:
        """Apply e to the units that are not kept.

        Args:
            patches: [B, h*w, C] input patch embeddings.
            keep: [B, U] bool, True = unit stays as it is.

        Returns:
            [B, h*w, C] patch embeddings for the target / inference pass.
        """
        units = patches_to_units(patches, grid, self.unit_size)
        if self.context_mode == 'drop':
            return units_to_patches(units * keep.unsqueeze(-1).to(units.dtype), grid,
                                    self.unit_size)
        e = self.context_token().to(units.dtype).view(1, 1, -1)
        drop = (~keep).unsqueeze(-1)
        if self.context_mode == 'add':
            units = units + drop.to(units.dtype) * e
        else:
            units = torch.where(drop, e.expand_as(units), units)
        return units_to_patches(units, grid, self.unit_size)

    def forward(self, inputs):
        """Identity: the selector is driven step by step by :class:`SVIPClassifier`."""
        return inputs
