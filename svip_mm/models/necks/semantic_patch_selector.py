"""The SVIP patch selector (docs/method.md, section 2), with the semantic context token mixed in.

The "neck" works at the *input* of the transformer:

* it scores each unit of input patch embeddings as semantic-unrelated (selector MLP; optionally
  after :class:`.UnitGridContext` gives each unit its neighbours' content, beyond the paper),
* it turns the source pass's attention maps into keep sets and selector labels,
* it applies the context token e (:mod:`.semantic_context_token`) to the units that are not
  kept.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from ..utils import (check_unit_grid, patch_scores_to_unit_scores, patches_to_units, topk_mask,
                     units_to_patches)
from ..utils.arrays import ArrayLike
from ..utils.choices import check_choice
from .attention_aggregation import aggregate_cls_attention
from .semantic_context_token import ContextTokenMixin, check_context_options
from .unit_grid_context import UnitGridContext


@MODELS.register_module()
class SemanticPatchSelector(ContextTokenMixin, BaseModule):
    """Semantic patch selector with a word-vector context token.

    The context token is :class:`ContextTokenMixin`'s (also registered on its own as
    :class:`SemanticContextToken`); the ``context_*`` and ``word_vectors`` arguments are its,
    and its parameters keep their keys here (``v2p``, ``p2t``, ``word_vectors``, ``context``).

    It is the selector neck :class:`SVIPClassifier` requires
    (:class:`~svip_mm.models.classifiers.SVIPSelectorNeck`, docs/interfaces.md):
    ``in_channels``, ``num_attributes``, ``unit_size``, ``keep_k``, :meth:`selector_logits`,
    :meth:`attention_unit_scores`, :meth:`keep_from_attention`, :meth:`keep_from_selector`,
    :meth:`contextualise` and :meth:`loss`; the classifier checks them when it is built.

    Args:
        in_channels: C, the patch embedding width.
        num_attributes: K.
        keep_k: units kept per image (40 of 49 on CUB); 1 <= k <= units - 1.
        word_vectors: [K, d_w] attribute word vectors: an array or a ``.npy`` path. Required
            unless ``context_init='random'``.
        unit_size: u, patches per unit side (2 in the paper; 1 = single patches).
        hidden_channels: width of the selector MLP.
        selector_context_layers: beyond the paper: residual 3x3 convolutions over the unit grid
            before the MLP (:class:`.UnitGridContext`, zero-initialised), so the selector sees
            each unit's neighbours. 0 (default) = the paper's per-unit MLP, no extra parameters.
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
                 selector_context_layers: int = 0,
                 aggregation: str = 'rollout',
                 label_grouping: str = 'block',
                 context_mode: str = 'add',
                 context_layout: str = 'unit',
                 context_init: str = 'word_vectors',
                 loss: dict = dict(type='SVIPSelectorLoss', mode='bce', loss_weight=3.0),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        check_choice('aggregation', aggregation, ('rollout', 'paper', 'last'))
        check_choice('label_grouping', label_grouping, ('block', 'official_raster'))
        check_context_options(context_mode, context_layout, context_init)
        if not isinstance(keep_k, int) or keep_k < 1:
            raise ValueError(f'keep_k must be an integer >= 1, got {keep_k!r}')
        if unit_size < 1:
            raise ValueError(f'unit_size must be >= 1, got {unit_size}')
        if not isinstance(selector_context_layers, int) or selector_context_layers < 0:
            raise ValueError('selector_context_layers must be an integer >= 0, got '
                             f'{selector_context_layers!r}')
        self.in_channels, self.num_attributes = in_channels, num_attributes
        self.keep_k, self.unit_size = keep_k, unit_size
        self.aggregation, self.label_grouping = aggregation, label_grouping
        unit_dim = unit_size * unit_size * in_channels

        self.selector = nn.Sequential(
            nn.Linear(unit_dim, hidden_channels), nn.ReLU(), nn.Linear(hidden_channels, 1))
        # after the selector: parameter order (optimizer state) and RNG use as before
        self._init_context_token(in_channels, num_attributes, unit_size, word_vectors,
                                 context_mode, context_layout, context_init)
        self.loss_module = MODELS.build(loss)
        # last, so that the default (0) builds and draws exactly what it did before
        self.selector_context = (UnitGridContext(unit_dim, selector_context_layers)
                                 if selector_context_layers else None)

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
        units = patches_to_units(patches, grid, self.unit_size)
        if self.selector_context is not None:
            units = self.selector_context(units, check_unit_grid(grid, self.unit_size))
        return self.selector(units).squeeze(-1)

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
        return units_to_patches(self.contextualise_units(units, keep), grid, self.unit_size)

    def forward(self, inputs):
        """Identity: the selector is driven step by step by :class:`SVIPClassifier`."""
        return inputs
