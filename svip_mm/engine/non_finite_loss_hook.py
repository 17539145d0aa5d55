"""Stop training at the first non-finite loss term, naming it."""
import math
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from .latest_checkpoint import latest_checkpoint


def _checkpoint_note(work_dir: str) -> str:
    try:
        latest = latest_checkpoint(work_dir)
    except FileNotFoundError:
        return f'No checkpoint has been written in {work_dir} yet.'
    return (f'The latest checkpoint in the work dir, {osp.basename(latest)}, is from before '
            'this iteration.')


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` as soon as any logged ``loss*`` term is NaN or infinite.

    MMEngine's ``CheckInvalidLossHook`` only looks at the summed loss every few iterations;
    SVIP sums five terms, so this hook checks each of them every iteration and says which
    one broke, at which iteration, so the run stops before a checkpoint with NaN weights is
    written. The check of all terms costs one host synchronisation per iteration.
    """
    priority = 'VERY_HIGH'

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        # the individual terms before their sum, so the message names the culprit
        terms = sorted((k for k in (outputs or {}) if k.startswith('loss')),
                       key=lambda k: k == 'loss')
        # one host synchronisation for all tensor terms; the culprit is looked for only
        # when something is not finite
        numbers_ok = all(math.isfinite(float(outputs[k])) for k in terms
                         if not isinstance(outputs[k], torch.Tensor))
        means = [outputs[k].detach().float().mean() for k in terms
                 if isinstance(outputs[k], torch.Tensor)]
        if numbers_ok and (not means or bool(torch.isfinite(
                torch.stack([m.to(means[0].device) for m in means])).all())):
            return
        for key in terms:
            value = outputs[key]
            number = float(value.detach().float().mean()) if isinstance(
                value, torch.Tensor) else float(value)
            if not math.isfinite(number):
                raise FloatingPointError(
                    f'loss term {key!r} is {number} at iteration {runner.iter + 1} '
                    f'(epoch {runner.epoch + 1}, batch {batch_idx + 1}); training stopped. '
                    + _checkpoint_note(runner.work_dir))
