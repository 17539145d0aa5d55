"""Choosing the GZSL calibration gamma without the test set (docs/calibration.md).

The xlsa17 splits divide the seen classes into ``train_loc`` classes and disjoint ``val_loc``
classes. A model trained on the train classes only sees the val classes as unseen, so they
stand in for the unseen classes; images held out of the train classes stand in for the seen
ones. :func:`holdout_split` chooses the held-out images, :func:`calibrate_gamma` sweeps gamma
on the model's scores of both, and :func:`gamma_option` names the ``--cfg-options`` key that
sets the chosen gamma in an experiment config. ``tools/calibrate.py`` runs the steps.
"""
from typing import Dict, List, Sequence

import numpy as np

from .zsl_accuracy import OFFICIAL_GAMMAS, best_gamma, gzsl_sweep, zsl_top1


def holdout_split(labels: Sequence[int], classes: Sequence[int], fraction: float,
                  seed: int = 0) -> Dict[str, List[int]]:
    """Hold out a seeded fraction of each class's images.

    Args:
        labels: ``[N]`` class id of every image of the split, in dataset order.
        classes: the classes to split (every image of ``labels`` must belong to one).
        fraction: share of each class held out, in (0, 1); rounded, at least 1 and at most
            ``n_c - 1`` images per class (a class with one image is not held out from).
        seed: with the class id, seeds each class's choice (independent of class order).

    Returns:
        ``{'train': [...], 'heldout': [...]}``: sorted positions into ``labels``.
    """
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f'holdout fraction must lie in (0, 1), got {fraction!r}')
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    classes = sorted(int(c) for c in classes)
    stray = sorted(set(labels.tolist()) - set(classes))
    if stray:
        raise ValueError(f'images of classes {stray[:5]} are not among the classes to split')
    held = []
    for c in classes:
        idx = np.flatnonzero(labels == c)
        if idx.size < 2:
            continue
        n = min(max(int(round(fraction * idx.size)), 1), idx.size - 1)
        rng = np.random.default_rng([int(seed), c])
        held.extend(rng.choice(idx, size=n, replace=False).tolist())
    held_set = set(held)
    return dict(train=[i for i in range(labels.size) if i not in held_set],
                heldout=sorted(held))


def calibrate_gamma(scores, labels, train_classes: Sequence[int], val_classes: Sequence[int],
                    gammas: Sequence[float] = OFFICIAL_GAMMAS) -> dict:
    """The calibration gamma with the best H on pseudo-GZSL data.

    Args:
        scores: ``[N, C]`` softmax probabilities over all C classes of the held-out
            train-class images and the val-class images.
        labels: ``[N]`` global class ids (each in ``train_classes`` or ``val_classes``).
        train_classes: the pseudo-seen classes (the model was trained on them).
        val_classes: the pseudo-unseen classes, disjoint from ``train_classes``.
        gammas: ``[G]`` candidates, subtracted from the pseudo-seen classes' scores.

    The candidates of the decision are the train and val classes only (the real unseen
    classes take no part, as the unseen classes take no part in training): the scores are
    restricted to those columns and renormalised to sum to 1, i.e. the softmax over train +
    val classes, as the test scores are the softmax over seen + unseen classes. Accuracies
    are per-class means (percent).

    Returns:
        dict: ``gamma`` (the middle of the first run of consecutive grid gammas reaching the
        best H; :func:`best_gamma` gives the run's start), its ``U``, ``S``, ``H``;
        ``best_range`` ``[lo, hi]`` of that run; ``at_zero`` (U, S, H at gamma 0);
        ``zsl_top1`` on the val classes; ``sweep`` (``gamma``, ``U``, ``S``, ``H`` lists).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    train = sorted(int(c) for c in train_classes)
    val = sorted(int(c) for c in val_classes)
    if set(train) & set(val):
        raise ValueError(f'train and val classes overlap: {sorted(set(train) & set(val))[:5]}')
    if scores.ndim != 2 or scores.shape[0] != labels.size:
        raise ValueError(f'scores {scores.shape} must be [N, C] for {labels.size} labels')
    cols = np.array(train + val)
    if cols.max() >= scores.shape[1]:
        raise ValueError(f'class id {cols.max()} is out of range for {scores.shape[1]} scores')
    local = {c: i for i, c in enumerate(cols.tolist())}
    bad = sorted(set(labels.tolist()) - set(local))
    if bad:
        raise ValueError(f'labels {bad[:5]} are neither train nor val classes')
    sub = scores[:, cols]
    sub = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1e-12)
    y = np.array([local[c] for c in labels.tolist()])
    is_unseen = np.isin(labels, val)
    seen_l, unseen_l = np.arange(len(train)), np.arange(len(train), cols.size)
    sweep = gzsl_sweep(sub, y, is_unseen, seen_l, unseen_l, gammas)
    best = best_gamma(sweep)
    h = sweep['H']
    first = int(np.flatnonzero(h == best['H'])[0])
    last = first
    while last + 1 < h.size and h[last + 1] == best['H']:
        last += 1
    mid = (first + last) // 2
    zero = gzsl_sweep(sub, y, is_unseen, seen_l, unseen_l, [0.0])
    return dict(
        gamma=float(sweep['gamma'][mid]),
        U=float(sweep['U'][mid]), S=float(sweep['S'][mid]), H=float(h[mid]),
        best_range=[float(sweep['gamma'][first]), float(sweep['gamma'][last])],
        at_zero={k: float(zero[k][0]) for k in ('U', 'S', 'H')},
        zsl_top1=zsl_top1(sub[is_unseen], y[is_unseen], unseen_l),
        sweep={k: [float(v) for v in sweep[k]] for k in ('gamma', 'U', 'S', 'H')})


def gamma_option(test_evaluator) -> str:
    """The ``--cfg-options`` key of the GZSL metric's gamma in the original config
    (``test_evaluator`` a metric dict, a list of them, or ``dict(metrics=[...])``)."""
    prefix, metrics = 'test_evaluator', test_evaluator
    if isinstance(metrics, dict) and 'metrics' in metrics:
        prefix, metrics = 'test_evaluator.metrics', metrics['metrics']
    if isinstance(metrics, (list, tuple)):
        for i, m in enumerate(metrics):
            if str(m.get('type', '')).split('.')[-1] == 'GZSLMetric':
                return f'{prefix}.{i}.gamma'
    return f'{prefix}.gamma'
