"""Consistency between the source-pass and target-pass class predictions
(docs/method.md, section 5)."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from ..utils.choices import check_choice


@MODELS.register_module()
class SVIPConsistencyLoss(nn.Module):
    """``'kl'`` (official) or ``'jsd'`` (paper) consistency of two class predictions.

    Both take the *unscaled* class similarities [B, C] of the two passes.

    * ``kl``: KL(softmax(s_tgt / T) || softmax(s_src / T)) * T^2, T = ``temperature``; with
      ``reduction='mean'`` the official element-wise mean over B x C (torch's ``KLDivLoss``
      default), ``'batchmean'`` the mathematically usual per-sample mean.
    * ``jsd``: Jensen-Shannon divergence between softmax(scale * s_src) and
      softmax(scale * s_tgt), per-sample mean.

    Args:
        mode: ``'kl'`` or ``'jsd'``.
        temperature: T of the KL form.
        scale: logit scale of the JSD form (the class-logit scale, 5).
        reduction: ``'mean'`` or ``'batchmean'`` for the KL form.
        loss_weight: multiplies the loss.
    """

    def __init__(self, mode: str = 'kl', temperature: float = 20.0, scale: float = 5.0,
                 reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        check_choice('consistency mode', mode, ('kl', 'jsd'))
        check_choice('reduction', reduction, ('mean', 'batchmean'))
        self.mode, self.temperature, self.scale = mode, temperature, scale
        self.reduction, self.loss_weight = reduction, loss_weight

    def forward(self, sim_src: torch.Tensor, sim_tgt: torch.Tensor) -> torch.Tensor:
        """Class similarities [B, C] of the source and target passes -> scalar loss []."""
        sim_src, sim_tgt = sim_src.float(), sim_tgt.float()
        if self.mode == 'kl':
            t = self.temperature
            # element-wise KL terms [B, C]; reduced here rather than by F.kl_div, whose
            # reduction='mean' warns on every call (torch reduces 'mean' with this same .mean())
            terms = F.kl_div(F.log_softmax(sim_src / t, dim=1), F.softmax(sim_tgt / t, dim=1),
                             reduction='none')
            loss = (terms.mean() if self.reduction == 'mean'
                    else terms.sum() / terms.size(0)) * t * t
        else:
            log_p = F.log_softmax(sim_src * self.scale, dim=1)
            log_q = F.log_softmax(sim_tgt * self.scale, dim=1)
            # a Python constant: torch.tensor(2.0, device=...) would be a blocking copy
            log_m = torch.logsumexp(torch.stack([log_p, log_q]), dim=0) - math.log(2.0)
            loss = 0.5 * (F.kl_div(log_m, log_p, reduction='batchmean', log_target=True)
                          + F.kl_div(log_m, log_q, reduction='batchmean', log_target=True))
        return self.loss_weight * loss
