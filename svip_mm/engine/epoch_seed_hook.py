"""Per-epoch reseeding, so that a resumed run repeats the uninterrupted one exactly."""
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
    state; on the CPU with a fixed seed a resumed run ends with the same weights. Dataloader
    workers are seeded from the main process when they start, so this also holds for
    ``num_workers > 0`` unless ``persistent_workers=True`` (persistent workers keep their
    random streams across epochs).

    Args:
        seed: base seed; by default the runner's seed (``randomness.seed``).
    """
    priority = 'VERY_HIGH'

    def __init__(self, seed=None):
        self.seed = seed

    def before_train_epoch(self, runner) -> None:
        base = self.seed if self.seed is not None else runner.seed
        seed = int(base) + runner.epoch
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
