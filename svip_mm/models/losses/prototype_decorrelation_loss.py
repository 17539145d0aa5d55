"""Group sparsity on attribute prototypes (APN's attribute decorrelation; docs/apn.md)."""
import torch
import torch.nn as nn
from mmpretrain.registry import MODELS

from ..utils.choices import check_choice
from .decorrelation_loss import group_representatives


@MODELS.register_module()
class PrototypeDecorrelationLoss(nn.Module):
    """Attribute decorrelation on prototype parameters: a group norm of the prototype rows of
    each attribute group, summed over the groups.

    Prototypes V [K, D] (one D-vector per attribute), groups S_1 .. S_G of attribute indices,
    w = ``loss_weight``, eps = ``eps``:

    - ``norm='group'`` (the released APN code, ``add_glasso`` in ``model/visual_utils.py`` of
      ``wenjiaXu/APN-ZSL``): one norm over the whole group, all its rows and channels,

      .. math:: L = w \\sum_{g} \\sqrt{\\sum_{d=1}^{D} (\\sum_{k \\in S_g} V_{kd}^2 + \\epsilon)}

    - ``norm='channel'`` (the paper's group lasso across channels): one norm per channel over
      the group's rows, summed over channels,

      .. math:: L = w \\sum_{g} \\sum_{d=1}^{D} \\sqrt{\\sum_{k \\in S_g} V_{kd}^2 + \\epsilon}

    ``grouping`` says what the groups are: ``'groups'`` the given group ids (attributes with a
    negative id are in no group and add nothing; no group at all gives 0), ``'whole'`` one
    group of all K attributes whatever the ids (the released code's AwA2 run, which has no
    ``--use_group``: there it adds the norm of the whole prototype matrix). The released
    ``'whole'`` norm has no eps; here eps enters every form alike (eps = 1e-8 changes the norm
    of a 768-channel matrix by at most 1e-5 / (2 ||V||)).

    Not the same term as :class:`AttributeDecorrelationLoss`: that one acts on the predicted
    attribute scores [B, K] of a batch (the released SVIP code), this one on model parameters
    [K, D], with no batch.

    Args:
        loss_weight: w.
        norm: ``'group'`` (released) or ``'channel'`` (paper).
        grouping: ``'groups'`` or ``'whole'``.
        eps: added under each square root (the released 1e-8).
    """

    def __init__(self, loss_weight: float = 1.0, norm: str = 'group', grouping: str = 'groups',
                 eps: float = 1e-8):
        super().__init__()
        check_choice('norm', norm, ('group', 'channel'))
        check_choice('grouping', grouping, ('groups', 'whole'))
        if eps < 0:
            raise ValueError(f'eps must be >= 0, got {eps}')
        self.loss_weight, self.norm, self.grouping, self.eps = loss_weight, norm, grouping, eps

    def forward(self, prototypes: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
        """
        Args:
            prototypes: [K, D] prototype parameters (one row per attribute).
            group_ids: [K] int group index per attribute; negative = in no group (unused
                with ``grouping='whole'``).

        Returns:
            scalar loss.
        """
        if prototypes.ndim != 2:
            raise ValueError(f'prototypes must be [K, D], got shape {tuple(prototypes.shape)}')
        squares = prototypes.float().pow(2)  # [K, D]
        if self.grouping == 'whole':
            per_group = squares.sum(0, keepdim=True)  # [1, D]
            is_first = torch.ones(1, dtype=torch.bool, device=squares.device)
        else:
            if group_ids.shape != prototypes.shape[:1]:
                raise ValueError(f'group_ids must be [K] = [{prototypes.shape[0]}], got shape '
                                 f'{tuple(group_ids.shape)}')
            valid = group_ids >= 0
            first = group_representatives(group_ids)  # [K]
            is_first = valid & (first == torch.arange(first.numel(), device=first.device))
            # each group's squares summed in the slot of its first member; no host sync
            squares = squares.masked_fill(~valid[:, None], 0.0)
            per_group = torch.zeros_like(squares).index_add_(0, first, squares)  # [K, D]
        if self.norm == 'group':
            norms = (per_group + self.eps).sum(1).sqrt()  # [G or K]
        else:
            norms = (per_group + self.eps).sqrt().sum(1)
        return self.loss_weight * (norms * is_first.to(norms.dtype)).sum()
