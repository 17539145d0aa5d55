"""SVIP's two-phase learning-rate schedule (docs/method.md, section 6) as an MMEngine hook."""
import math
from typing import Optional

from mmengine.hooks import Hook
from mmengine.optim import BaseOptimWrapper
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class TwoPhaseScheduleHook(Hook):
    """Phase 1 trains only the new modules; phase 2 trains everything with step decay.

    Works on the ``group_name``-tagged groups of :class:`SVIPOptimWrapperConstructor`. Per
    epoch e (0-based): for e < ``phase1_epochs`` the ``'new'`` group gets ``phase1_lr`` and
    the ``'pretrained'`` group 0; afterwards every group gets
    ``lr * gamma ** (e // step_epochs)`` (the official decay counts from epoch 0).

    The phase-2 base ``lr`` is the optimizer's own (``optim_wrapper.optimizer.lr``, after
    MMEngine's ``auto_scale_lr`` if enabled), read once in ``before_run``: before the Runner
    loads a ``--resume`` checkpoint, whose optimizer state holds the lr this hook set last,
    so the base never drifts across resumes. The config states it in one place; ``lr`` here
    is only an optional cross-check.

    Unlike the released code, one optimizer (and its Adam moments) lives through both phases,
    and "not trained" means a learning rate of 0 rather than a parameter taken out of the
    optimizer, so the set of parameters with gradients never changes: safe under
    DistributedDataParallel and across ``--resume`` (the lr follows ``runner.epoch``).

    Args:
        phase1_epochs: epochs of phase 1 (only the ``'new'`` group trains).
        phase1_lr: learning rate of the ``'new'`` group in phase 1.
        lr: leave unset (the optimizer's lr is used). If given, it must equal the
            optimizer's lr, otherwise training stops with a ValueError.
        step_epochs: the phase-2 lr is multiplied by ``gamma`` every ``step_epochs`` epochs.
        gamma: the decay factor.
    """
    priority = 'HIGH'

    def __init__(self, phase1_epochs: int, phase1_lr: float, lr: Optional[float] = None,
                 step_epochs: int = 5, gamma: float = 0.8):
        if phase1_epochs < 0 or step_epochs < 1:
            raise ValueError(f'phase1_epochs must be >= 0 and step_epochs >= 1, got '
                             f'{phase1_epochs} and {step_epochs}')
        self.phase1_epochs, self.phase1_lr = phase1_epochs, phase1_lr
        self.lr = lr  # the explicit value, if any; the base in use is base_lr
        self.base_lr: Optional[float] = lr
        self._read_optimizer = False
        self.step_epochs, self.gamma = step_epochs, gamma

    def lr_for(self, group_name: str, epoch: int) -> float:
        if epoch < self.phase1_epochs:
            return self.phase1_lr if group_name == 'new' else 0.0
        if self.base_lr is None:
            raise RuntimeError('TwoPhaseScheduleHook: the phase-2 lr is read from the '
                               'optimizer in before_run, which has not run yet')
        return self.base_lr * self.gamma ** (epoch // self.step_epochs)

    def before_run(self, runner) -> None:
        # Runner.train calls before_run after building the optimizer (and auto_scale_lr) and
        # before load_or_resume: the groups still hold the configured lr. Read it once: a
        # test after training (before_run again) finds the lr this hook set last; a test-only
        # runner has no optimizer built.
        if self._read_optimizer or not isinstance(runner.optim_wrapper, BaseOptimWrapper):
            return
        lrs = sorted({group['lr'] for group in self._groups(runner)})
        if len(lrs) != 1:
            raise ValueError(f'TwoPhaseScheduleHook expects one lr in all optimizer groups '
                             f'(optim_wrapper.optimizer.lr), got {lrs}')
        configured = lrs[0]
        if self.lr is not None and not math.isclose(self.lr, configured, rel_tol=1e-9):
            raise ValueError(
                f'TwoPhaseScheduleHook(lr={self.lr:g}) disagrees with the optimizer lr '
                f'{configured:g} (optim_wrapper.optimizer.lr, after auto_scale_lr if enabled). '
                f'The phase-2 lr is the optimizer\'s: set it only in optim_wrapper.optimizer.lr '
                f'(e.g. --cfg-options optim_wrapper.optimizer.lr={self.lr:g}) and remove lr '
                f'from the hook.')
        self.base_lr, self._read_optimizer = configured, True

    @staticmethod
    def _groups(runner) -> list:
        groups = runner.optim_wrapper.optimizer.param_groups
        if any(g.get('group_name') is None for g in groups):
            raise ValueError('TwoPhaseScheduleHook needs optimizer groups tagged by '
                             "SVIPOptimWrapperConstructor (optim_wrapper.constructor="
                             "'SVIPOptimWrapperConstructor')")
        return groups

    def before_train_epoch(self, runner) -> None:
        for group in self._groups(runner):
            group['lr'] = self.lr_for(group['group_name'], runner.epoch)
