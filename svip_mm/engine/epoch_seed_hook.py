"""Per-epoch reseeding, so that a resumed run repeats the uninterrupted one exactly."""
import logging
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Seed python, numpy and torch with ``seed + epoch`` before every training epoch.

    MMEngine seeds once at start-up and does not store the random state in checkpoints, so
    after ``--resume`` dropout, stochastic depth and random augmentations would draw other
    numbers than the uninterrupted run. With this hook, epoch e always starts from the same
    state; on the CPU with a fixed seed a resumed run ends with the same weights.

    Dataloader workers draw the random augmentations. MMEngine seeds each worker when it
    starts (from ``randomness.seed`` and the worker id), so with
    ``persistent_workers=False`` (workers restarted every epoch) this holds for
    ``num_workers > 0`` too. Persistent workers carry their random streams from one epoch to
    the next, so a resumed run (whose workers start afresh) draws other augmentations than
    the uninterrupted one: the hook logs a warning for such a train_dataloader.

    Args:
        seed: base seed; by default the runner's seed (``randomness.seed``).
    """
    priority = 'VERY_HIGH'

    def __init__(self, seed=None):
        self.seed = seed

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        if getattr(loader, 'num_workers', 0) > 0 and getattr(loader, 'persistent_workers', False):
            runner.logger.log(
                logging.WARNING,
                'EpochSeedHook: train_dataloader has persistent_workers=True, whose workers keep '
                'their random streams across epochs, so a --resume run will not repeat the '
                'uninterrupted run exactly; set train_dataloader.persistent_workers=False '
                '(the workers then restart, reseeded, every epoch) for exact resume')

    def before_train_epoch(self, runner) -> None:
        base = self.seed if self.seed is not None else runner.seed
        seed = int(base) + runner.epoch
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
