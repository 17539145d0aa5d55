"""Stop training at the first non-finite loss term, naming it and the checkpoint to restart
from."""
import math
import os.path as osp
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.runner.checkpoint import find_latest_checkpoint
from mmpretrain.registry import HOOKS

from .latest_checkpoint import latest_checkpoint, previous_checkpoint


def _starting_checkpoint(runner) -> Optional[str]:
    """The checkpoint the Runner loaded before training: ``load_from`` (loaded or resumed),
    or with ``resume`` and no ``load_from``, the one ``last_checkpoint`` names (what the
    Runner resumes from then)."""
    load_from = getattr(runner, '_load_from', None)
    if load_from:
        return str(load_from)
    if getattr(runner, '_resume', False):
        return find_latest_checkpoint(runner.work_dir) or None
    return None


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` as soon as any logged ``loss*`` term is NaN or infinite.

    MMEngine's ``CheckInvalidLossHook`` only looks at the summed loss every few iterations;
    SVIP sums five terms, so this hook checks each of them every iteration and says which
    one broke, at which iteration, so the run stops before a checkpoint with NaN weights is
    written. The check of all terms costs one host synchronisation per iteration.

    The message names the checkpoint to restart from: the latest one of the work dir. If the
    run started from a checkpoint (resumed, or ``load_from``) and has written none since, that
    checkpoint is what gives non-finite losses (damaged weights, or a diverged run), so the
    message says so and names the readable checkpoint before it, if there is one, instead.
    """
    priority = 'VERY_HIGH'

    def __init__(self):
        self._started_from = None
        self._saved = False

    def before_train(self, runner) -> None:
        # the Runner has loaded or resumed before the train loop calls this
        self._started_from = _starting_checkpoint(runner)
        self._saved = False

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._saved = True

    def _checkpoint_note(self, runner) -> str:
        start = self._started_from
        if start and not self._saved:
            how = 'resumed' if getattr(runner, '_resume', False) else 'load_from'
            earlier = previous_checkpoint(start)
            then = (f'the checkpoint before it is {osp.basename(earlier)}, in '
                    f'{osp.dirname(earlier)}' if earlier else
                    'there is no earlier checkpoint beside it')
            return (f'The run started from {start} ({how}) and has written no checkpoint '
                    'since: that checkpoint already gives non-finite losses (its weights may '
                    f'be damaged, or its run diverged), so restarting from it stops again; '
                    f'{then}.')
        try:
            latest = latest_checkpoint(runner.work_dir)
        except FileNotFoundError:
            return f'No checkpoint has been written in {runner.work_dir} yet.'
        return (f'The latest checkpoint in the work dir, {osp.basename(latest)}, is from '
                'before this iteration.')

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
                    + self._checkpoint_note(runner))
