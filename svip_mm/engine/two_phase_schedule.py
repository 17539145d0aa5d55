"""SVIP's two-phase learning-rate schedule (spec, section 6) as an MMEngine hook."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class TwoPhaseScheduleHook(Hook):
    """Phase 1 trains only the new modules; phase 2 trains everything with step decay.

    Works on the ``group_name``-tagged groups of :class:`SVIPOptimWrapperConstructor`. Per
    epoch e (0-based): for e < ``phase1_epochs`` the ``'new'`` group gets ``phase1_lr`` and
    the ``'pretrained'`` group 0; afterwards every group gets
    ``lr * gamma ** (e // step_epochs)`` (the official decay counts from epoch 0).

    Unlike the released code, one optimizer (and its Adam moments) lives through both phases,
    and "not trained" means a learning rate of 0 rather than a parameter taken out of the
    optimizer, so the set of parameters with gradients never changes: safe under
    DistributedDataParallel and across ``--resume`` (the lr follows ``runner.epoch``).
    """
    priority = 'HIGH'

    def __init__(self, phase1_epochs: int, phase1_lr: float, lr: float,
                 step_epochs: int = 5, gamma: float = 0.8):
        if phase1_epochs < 0 or step_epochs < 1:
            raise ValueError(f'phase1_epochs must be >= 0 and step_epochs >= 1, got '
                             f'{phase1_epochs} and {step_epochs}')
        self.phase1_epochs, self.phase1_lr, self.lr = phase1_epochs, phase1_lr, lr
        self.step_epochs, self.gamma = step_epochs, gamma

    def lr_for(self, group_name: str, epoch: int) -> float:
        if epoch < self.phase1_epochs:
            return self.phase1_lr if group_name == 'new' else 0.0
        return self.lr * self.gamma ** (epoch // self.step_epochs)

    def before_train_epoch(self, runner) -> None:
        groups = runner.optim_wrapper.optimizer.param_groups
        names = [g.get('group_name') for g in groups]
        if None in names:
            raise ValueError('TwoPhaseScheduleHook needs optimizer groups tagged by '
                             "SVIPOptimWrapperConstructor (optim_wrapper.constructor="
                             "'SVIPOptimWrapperConstructor')")
        for group in groups:
            group['lr'] = self.lr_for(group['group_name'], runner.epoch)
