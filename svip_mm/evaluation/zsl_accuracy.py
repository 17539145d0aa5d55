"""Zero-shot accuracies from plain arrays: ZSL top-1, GZSL U / S / H, calibrated stacking.

Everything here is a pure function of numpy arrays (torch tensors are accepted and converted),
so it can be used from notebooks, tests, :class:`~svip_mm.evaluation.GZSLMetric` and the gamma
calibration tool alike. Definitions follow ``docs/method.md``, section 9:

- Shapes: ``N`` samples, ``C`` classes in the global class order, ``G`` candidate gammas.
  ``scores`` is ``[N, C]``, ``labels`` ``[N]`` (0-based global class ids), ``is_unseen`` ``[N]``
  (True for a test-unseen sample), ``seen_classes`` / ``unseen_classes`` 1-D id lists that
  together cover ``0 .. C-1`` exactly once.
- Per-class accuracy (the benchmark's metric): top-1 accuracy within each class, averaged over
  the classes that have at least one sample in the evaluated group. Per-sample accuracy: the
  fraction of correct samples. Both are returned in percent (0-100).
- ZSL top-1: test-unseen samples, argmax restricted to the unseen classes.
- GZSL with calibrated stacking at ``gamma``: argmax over all classes of
  ``scores - gamma * [class is seen]``; U is the accuracy on test-unseen samples, S on test-seen
  samples, H = 2 U S / (U + S) (0 when U = S = 0).

How the sweep is computed: for one sample, subtracting the same ``gamma`` from every seen score
never changes which seen class is best, nor which unseen class is best; it only decides between
the two. So the calibrated prediction is the best seen class while
``max_seen - gamma > max_unseen`` and the best unseen class otherwise (at an exact tie the lower
class id wins, as in ``argmax``). This makes a sweep over ``G`` gammas cost ``O(G * N)`` instead
of ``O(G * N * C)``. It equals ``argmax(scores - gamma * seen_mask)`` up to floating-point
rounding at exact ties (scores are compared in float64).
"""
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'OFFICIAL_GAMMAS', 'BLOCKS', 'as_numpy', 'non_finite_rows', 'check_class_split',
    'check_zsl_inputs', 'harmonic_mean', 'per_class_accuracy', 'per_sample_accuracy',
    'calibrated_predict', 'zsl_top1', 'gzsl_sweep', 'gzsl_accuracy', 'best_gamma', 'evaluate_zsl'
]

#: The official SVIP sweep: gamma in [-1, 1) in steps of 0.01 (200 values, -1.00 ... 0.99).
OFFICIAL_GAMMAS: np.ndarray = np.arange(-100, 100) / 100.0

#: Report blocks understood by :func:`evaluate_zsl`; ``'honest'`` is always reported.
BLOCKS: Tuple[str, ...] = ('honest', 'oracle', 'official')

# Upper bound on the number of [gamma, sample] booleans materialised at once in a sweep.
_SWEEP_CHUNK_ELEMENTS = 1 << 22


def as_numpy(x) -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor, list, scalar) as a numpy array on the CPU."""
    if hasattr(x, 'detach'):  # torch.Tensor without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def non_finite_rows(scores: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``[N, C]`` scores that hold a NaN or an inf, ``[M]`` int64."""
    return np.flatnonzero(~np.isfinite(scores).all(axis=1))


def _finite_scores(scores) -> np.ndarray:
    """``[N, C]`` scores as float64, refusing NaN and inf: argmax would pick a nan's class (or
    the first one) and every accuracy derived from it would be a number, but a wrong one."""
    scores = as_numpy(scores).astype(np.float64)
    # other shapes are left to the callers' own shape checks
    rows = non_finite_rows(scores) if scores.ndim == 2 else np.zeros(0, np.int64)
    if rows.size:
        raise ValueError(f'{len(rows)} of {scores.shape[0]} samples have non-finite scores '
                         f'(NaN or inf; sample indices {rows.tolist()[:10]}'
                         f'{" ..." if len(rows) > 10 else ""}); expected finite scores: the '
                         'model that produced them (its checkpoint) or its input data are '
                         'damaged')
    return scores


def _as_id_array(ids, name: str) -> np.ndarray:
    """``ids`` (list, tuple, range, set, array, tensor) as a 1-D int64 array; checks integrality."""
    if ids is None:
        raise ValueError(f'{name} is not set; give the 0-based global class ids')
    if isinstance(ids, (set, frozenset, range)) or not hasattr(ids, '__len__'):
        ids = sorted(ids)
    arr = as_numpy(ids)
    if arr.ndim != 1:
        raise ValueError(f'{name} must be a 1-D list of class ids, got shape {arr.shape}')
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if arr.dtype.kind != 'f' or not np.all(np.mod(arr, 1) == 0):
            raise ValueError(f'{name} must hold integer class ids, got {arr.tolist()[:20]}')
    return arr.astype(np.int64)


def check_class_split(seen_classes: Iterable[int],
                      unseen_classes: Iterable[int],
                      num_classes: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Validate a seen / unseen class split and return both as sorted int64 arrays.

    Args:
        seen_classes: 0-based global ids of the seen classes, ``[S]``.
        unseen_classes: 0-based global ids of the unseen classes, ``[U]``.
        num_classes: the total number of classes ``C``; defaults to ``S + U``.

    Returns:
        ``(seen [S], unseen [U])``, sorted ascending.

    Raises:
        ValueError: an empty list, a duplicated id, an id in both lists, an id outside
            ``0 .. C-1``, or an id of ``0 .. C-1`` in neither list.
    """
    seen = _as_id_array(seen_classes, 'seen_classes')
    unseen = _as_id_array(unseen_classes, 'unseen_classes')
    for name, ids in (('seen_classes', seen), ('unseen_classes', unseen)):
        if ids.size == 0:
            raise ValueError(f'{name} is empty; GZSL needs at least one seen and one unseen '
                             'class')
        values, counts = np.unique(ids, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f'{name} lists class ids more than once: '
                             f'{values[counts > 1].tolist()}')
    overlap = np.intersect1d(seen, unseen)
    if overlap.size:
        raise ValueError('seen_classes and unseen_classes overlap; each class must be in '
                         f'exactly one of them, but these ids are in both: {overlap.tolist()}')
    total = seen.size + unseen.size
    if num_classes is None:
        num_classes = total
    all_ids = np.concatenate([seen, unseen])
    bad = all_ids[(all_ids < 0) | (all_ids >= num_classes)]
    if bad.size:
        raise ValueError(f'class ids {np.unique(bad).tolist()} are outside the valid range '
                         f'0..{num_classes - 1} (num_classes={num_classes})')
    if total != num_classes:
        missing = np.setdiff1d(np.arange(num_classes), all_ids)
        raise ValueError(f'seen_classes ({seen.size}) + unseen_classes ({unseen.size}) = '
                         f'{total} ids, expected all {num_classes} classes; ids in neither '
                         f'list: {missing.tolist()[:20]}' + (' ...' if missing.size > 20 else ''))
    return np.sort(seen), np.sort(unseen)


def check_zsl_inputs(scores, labels, is_unseen, seen_classes, unseen_classes,
                     require_both: bool = True
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert the evaluation arrays.

    Args:
        scores: ``[N, C]`` class scores (e.g. softmax probabilities) in the global class order.
        labels: ``[N]`` 0-based global class ids (``[N, 1]`` is accepted and flattened).
        is_unseen: ``[N]`` bool, True for a test-unseen sample.
        seen_classes: ``[S]`` seen class ids; ``unseen_classes``: ``[U]``; ``S + U = C``.
        require_both: raise when there are no test-unseen or no test-seen samples.

    Returns:
        ``(scores [N, C] float64, labels [N] int64, is_unseen [N] bool, seen [S], unseen [U])``.

    Raises:
        ValueError: naming the offending value and what was expected.
    """
    scores = as_numpy(scores)
    if scores.ndim != 2:
        raise ValueError(f'scores must be a 2-D [num_samples, num_classes] array, got shape '
                         f'{scores.shape}')
    n, c = scores.shape
    seen, unseen = check_class_split(seen_classes, unseen_classes)
    if c != seen.size + unseen.size:
        raise ValueError(f'scores have {c} classes per sample, expected {seen.size + unseen.size}'
                         f' = {seen.size} seen + {unseen.size} unseen classes')
    scores = _finite_scores(scores)

    labels = as_numpy(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (n, ):
        raise ValueError(f'labels must have shape [{n}] (one class id per sample), got '
                         f'{labels.shape}')
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if labels.dtype == bool or not np.all(np.mod(labels, 1) == 0):
            raise ValueError(f'labels must be integer class ids, got dtype {labels.dtype}')
    labels = labels.astype(np.int64)
    out_of_range = (labels < 0) | (labels >= c)
    if np.any(out_of_range):
        idx = np.nonzero(out_of_range)[0]
        raise ValueError(f'labels out of range: {labels[idx].tolist()[:10]} (sample indices '
                         f'{idx.tolist()[:10]}); expected 0-based class ids in 0..{c - 1}')

    is_unseen = as_numpy(is_unseen)
    if is_unseen.shape != (n, ):
        raise ValueError(f'is_unseen must have shape [{n}], got {is_unseen.shape}')
    if is_unseen.dtype != bool:
        if not np.all(np.isin(is_unseen, (0, 1))):
            raise ValueError('is_unseen must be boolean (or 0/1), got values '
                             f'{np.unique(is_unseen).tolist()[:10]}')
        is_unseen = is_unseen.astype(bool)

    if require_both:
        if not np.any(is_unseen):
            raise ValueError(f'no test-unseen samples (is_unseen=True) among the {n} evaluated '
                             'samples; GZSL needs both test_seen and test_unseen in the '
                             'evaluation set')
        if np.all(is_unseen):
            raise ValueError(f'no test-seen samples (is_unseen=False) among the {n} evaluated '
                             'samples; GZSL needs both test_seen and test_unseen in the '
                             'evaluation set')

    label_unseen = np.isin(labels, unseen)
    wrong = label_unseen != is_unseen
    if np.any(wrong):
        idx = np.nonzero(wrong)[0][:10]
        raise ValueError('is_unseen disagrees with the class split for samples '
                         f'{idx.tolist()} (labels {labels[idx].tolist()}, is_unseen '
                         f'{is_unseen[idx].tolist()}); a test-unseen sample must have an unseen '
                         'class label and a test-seen sample a seen one')
    return scores, labels, is_unseen, seen, unseen


def harmonic_mean(u, s):
    """H = 2 U S / (U + S), elementwise; 0 where U + S = 0. Scalars or arrays of one shape."""
    u = np.asarray(u, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    total = u + s
    h = np.where(total > 0, 2.0 * u * s / np.where(total > 0, total, 1.0), 0.0)
    return float(h) if h.ndim == 0 else h


def _class_sums(correct: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per-class correct counts.

    Args:
        correct: ``[G, M]`` bool, the correctness of M samples under G settings.
        labels: ``[M]`` class ids.

    Returns:
        ``(counts [G, K] int64, class_sizes [K])`` over the K distinct labels.
    """
    order = np.argsort(labels, kind='stable')
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    sizes = np.diff(np.r_[starts, sorted_labels.size])
    counts = np.add.reduceat(correct[:, order].astype(np.int64), starts, axis=1)
    return counts, sizes


def _accuracy_rows(correct: np.ndarray, labels: np.ndarray, per_class: bool) -> np.ndarray:
    """Accuracy in percent per row of ``correct`` (``[G, M]`` bool, labels ``[M]``) -> ``[G]``."""
    if labels.size == 0:
        raise ValueError('cannot compute an accuracy over zero samples')
    if not per_class:
        return correct.sum(axis=1) / labels.size * 100.0
    counts, sizes = _class_sums(correct, labels)
    return (counts / sizes).mean(axis=1) * 100.0


def per_class_accuracy(pred, labels) -> float:
    """Mean over classes of the top-1 accuracy within each class, in percent.

    Args:
        pred: ``[M]`` predicted class ids.
        labels: ``[M]`` true class ids; classes are those that occur in ``labels``.
    """
    pred, labels = as_numpy(pred).reshape(-1), as_numpy(labels).reshape(-1)
    return float(_accuracy_rows((pred == labels)[None], labels, per_class=True)[0])


def per_sample_accuracy(pred, labels) -> float:
    """Fraction of correct predictions in percent; ``pred`` and ``labels`` are ``[M]``."""
    pred, labels = as_numpy(pred).reshape(-1), as_numpy(labels).reshape(-1)
    return float(_accuracy_rows((pred == labels)[None], labels, per_class=False)[0])


def calibrated_predict(scores, seen_classes, gamma: float = 0.0) -> np.ndarray:
    """Calibrated-stacking predictions by the definition: ``argmax(scores - gamma * seen_mask)``.

    A direct (``O(N * C)`` per gamma) reference; sweeps use :func:`gzsl_sweep`.

    Args:
        scores: ``[N, C]`` class scores.
        seen_classes: seen class ids.
        gamma: subtracted from every seen class's score.

    Returns:
        ``[N]`` int64 predicted global class ids.
    """
    scores = _finite_scores(scores)
    shifted = scores.copy()
    shifted[:, _as_id_array(seen_classes, 'seen_classes')] -= gamma
    return shifted.argmax(axis=1)


def _best_in(scores: np.ndarray, classes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Best class among ``classes`` (sorted ``[K]``) per row of ``scores [N, C]``.

    Returns ``(class_ids [N], max_scores [N])``; ties go to the lowest class id.
    """
    sub = scores[:, classes]
    pos = sub.argmax(axis=1)
    return classes[pos], sub[np.arange(scores.shape[0]), pos]


def zsl_top1(scores, labels, unseen_classes, per_class: bool = True) -> float:
    """ZSL top-1 in percent: argmax restricted to the unseen classes.

    Args:
        scores: ``[M, C]`` scores of test-unseen samples over all classes (global order).
        labels: ``[M]`` their global class ids (all in ``unseen_classes``).
        unseen_classes: ``[U]`` unseen class ids.
        per_class: per-class mean accuracy (default) or per-sample accuracy.
    """
    scores = _finite_scores(scores)
    labels = as_numpy(labels).reshape(-1).astype(np.int64)
    unseen = np.sort(_as_id_array(unseen_classes, 'unseen_classes'))
    pred, _ = _best_in(scores, unseen)
    return float(_accuracy_rows((pred == labels)[None], labels, per_class)[0])


def gzsl_sweep(scores, labels, is_unseen, seen_classes, unseen_classes,
               gammas: Sequence[float], per_class: bool = True) -> Dict[str, np.ndarray]:
    """GZSL U, S, H under calibrated stacking for every gamma of ``gammas``.

    Args:
        scores: ``[N, C]`` class scores over all classes (global order).
        labels: ``[N]`` global class ids.
        is_unseen: ``[N]`` bool, True for test-unseen samples.
        seen_classes, unseen_classes: the class split (``S + U = C``).
        gammas: ``[G]`` values subtracted from the seen classes' scores.
        per_class: per-class mean accuracy (default) or per-sample accuracy.

    Returns:
        dict with ``'gamma'``, ``'U'``, ``'S'``, ``'H'``, each ``[G]`` float64 (percent).

    Raises:
        ValueError: see :func:`check_zsl_inputs`.
    """
    checked = check_zsl_inputs(scores, labels, is_unseen, seen_classes, unseen_classes)
    return _sweep(*checked, gammas=gammas, per_class=per_class)


def _sweep(scores: np.ndarray, labels: np.ndarray, is_unseen: np.ndarray, seen: np.ndarray,
           unseen: np.ndarray, gammas: Sequence[float], per_class: bool
           ) -> Dict[str, np.ndarray]:
    """:func:`gzsl_sweep` on inputs already checked by :func:`check_zsl_inputs`."""
    gammas = np.asarray(gammas, dtype=np.float64).reshape(-1)
    if gammas.size == 0:
        raise ValueError('gammas is empty; give at least one gamma')
    seen_id, seen_max = _best_in(scores, seen)
    unseen_id, unseen_max = _best_in(scores, unseen)
    seen_wins_tie = seen_id < unseen_id
    seen_right = seen_id == labels
    unseen_right = unseen_id == labels

    u_acc = np.empty(gammas.size)
    s_acc = np.empty(gammas.size)
    step = max(1, _SWEEP_CHUNK_ELEMENTS // max(1, labels.size))
    for lo in range(0, gammas.size, step):
        g = gammas[lo:lo + step, None]  # [g, 1]
        shifted = seen_max[None] - g  # [g, N]
        picks_seen = (shifted > unseen_max[None]) | ((shifted == unseen_max[None])
                                                     & seen_wins_tie[None])
        correct = np.where(picks_seen, seen_right[None], unseen_right[None])  # [g, N]
        u_acc[lo:lo + step] = _accuracy_rows(correct[:, is_unseen], labels[is_unseen], per_class)
        s_acc[lo:lo + step] = _accuracy_rows(correct[:, ~is_unseen], labels[~is_unseen],
                                             per_class)
    return dict(gamma=gammas, U=u_acc, S=s_acc, H=harmonic_mean(u_acc, s_acc))


def gzsl_accuracy(scores, labels, is_unseen, seen_classes, unseen_classes, gamma: float = 0.0,
                  per_class: bool = True) -> Dict[str, float]:
    """GZSL ``{'U', 'S', 'H'}`` in percent at one calibration ``gamma`` (see :func:`gzsl_sweep`)."""
    sweep = gzsl_sweep(scores, labels, is_unseen, seen_classes, unseen_classes, [gamma],
                       per_class)
    return {k: float(sweep[k][0]) for k in ('U', 'S', 'H')}


def best_gamma(sweep: Dict[str, np.ndarray]) -> Dict[str, float]:
    """The entry of a :func:`gzsl_sweep` result with the highest H.

    Ties go to the first gamma in the order given (as in the official SVIP code).

    Returns:
        ``{'gamma', 'U', 'S', 'H'}`` as floats.
    """
    i = int(np.argmax(sweep['H']))
    return {k: float(sweep[k][i]) for k in ('gamma', 'U', 'S', 'H')}


def evaluate_zsl(scores, labels, is_unseen, seen_classes, unseen_classes, gamma: float = 0.0,
                 blocks: Iterable[str] = BLOCKS,
                 oracle_gammas: Optional[Sequence[float]] = None) -> Dict[str, float]:
    """All report blocks of ``docs/method.md``, section 9.3, from arrays.

    Args:
        scores: ``[N, C]`` softmax probabilities over all C classes (global order) of the
            test-seen and test-unseen samples together.
        labels: ``[N]`` global class ids.
        is_unseen: ``[N]`` bool, True for test-unseen samples.
        seen_classes, unseen_classes: the class split (``S + U = C``).
        gamma: calibration for the honest block, chosen without the test set (config or
            held-out data).
        blocks: any of ``'honest'``, ``'oracle'``, ``'official'``; the honest block is always
            included.
        oracle_gammas: ``[G]`` gammas swept for the oracle block; defaults to
            :data:`OFFICIAL_GAMMAS`.

    Returns:
        dict of percentages (gammas as given):

        - honest: ``zsl/top1``; ``gzsl/U``, ``gzsl/S``, ``gzsl/H`` at ``gamma``, per-class.
        - ``oracle/U``, ``oracle/S``, ``oracle/H``, ``oracle/gamma``: the gamma of
          ``oracle_gammas`` with the best per-class H on these very samples. It looks at the
          test labels, so it is an upper bound, not a result.
        - ``official/U``, ``official/S``, ``official/H``, ``official/gamma``: the official SVIP
          protocol (sweep of :data:`OFFICIAL_GAMMAS` on these samples, per-SAMPLE accuracy,
          best H), only for parity with published tables.

    Raises:
        ValueError: bad inputs (see :func:`check_zsl_inputs`) or an unknown block name.
    """
    blocks = tuple(blocks)
    unknown = [b for b in blocks if b not in BLOCKS]
    if unknown:
        raise ValueError(f'unknown report blocks {unknown}; choose from {list(BLOCKS)}')
    scores, labels, is_unseen, seen, unseen = check_zsl_inputs(
        scores, labels, is_unseen, seen_classes, unseen_classes)
    args = (scores, labels, is_unseen, seen, unseen)

    results = {'zsl/top1': zsl_top1(scores[is_unseen], labels[is_unseen], unseen)}
    honest = best_gamma(_sweep(*args, gammas=[float(gamma)], per_class=True))
    results.update({f'gzsl/{k}': honest[k] for k in ('U', 'S', 'H')})
    if 'oracle' in blocks:
        grid = OFFICIAL_GAMMAS if oracle_gammas is None else oracle_gammas
        best = best_gamma(_sweep(*args, gammas=grid, per_class=True))
        results.update({f'oracle/{k}': best[k] for k in ('U', 'S', 'H', 'gamma')})
    if 'official' in blocks:
        best = best_gamma(_sweep(*args, gammas=OFFICIAL_GAMMAS, per_class=False))
        results.update({f'official/{k}': best[k] for k in ('U', 'S', 'H', 'gamma')})
    return results
