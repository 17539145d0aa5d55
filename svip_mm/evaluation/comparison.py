"""Comparing ZSL methods over seeds: paired per-seed differences and the methods table.

Runs of two methods with the same seed share that seed's data order, so the methods are
compared seed by seed (:func:`paired_difference`): the mean, spread and range of
``a[seed] - b[seed]`` over the seeds both have. Whether a mean difference
means anything is judged against the seed spread (:func:`inside_seed_spread`); the rule:

    the mean difference is *inside the seed spread* when
    ``|mean(a - b)| <= max(std(a), std(b))``,

the standard deviations (sample, ddof 1) taken over the shared seeds only. A difference no
larger than how much either method moves from one seed to the next is not a result. With one
shared seed there is no spread and no judgement (``None``).

:func:`format_methods_rows` writes the Markdown rows of the methods table (``mean ± std`` per
column, transductive methods marked), :func:`format_paired_difference` one line per pair.
``svip_mm.experiments.methods_report`` (``tools/run_ablation.py``) uses them for experiments
with ``calibrate = True`` (``configs/experiments/methods.py``).
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

#: the mark appended to the label of a method that reads the unseen classes' attributes in
#: training (transductive); the table's notes explain it
TRANSDUCTIVE_MARK = ' (transductive)'


def _std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof 1); 0 for a single value."""
    return float(values.std(ddof=1)) if values.size > 1 else 0.0


def paired_difference(a: Mapping[int, float], b: Mapping[int, float]) -> Dict[str, object]:
    """Per-seed differences ``a[s] - b[s]`` over the seeds both methods have.

    Args:
        a: seed -> value of the metric for method A (e.g. H of each seed's run).
        b: seed -> value of the same metric for method B (the reference).

    Returns:
        dict: ``seeds`` (sorted shared seeds), ``diffs`` (``[n]`` per-seed ``a - b``, in seed
        order), ``mean``, ``std`` (sample, ddof 1; 0 for one seed), ``min``, ``max`` of the
        differences, ``n``; ``std_a`` and ``std_b`` (each method's sample std over the same
        seeds), ``spread`` (the larger of the two) and ``inside_spread``
        (:func:`inside_seed_spread`; ``None`` for one seed).

    Raises:
        ValueError: if the methods share no seed.
    """
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError(f'no seed in common: method A has seeds {sorted(a)}, method B '
                         f'{sorted(b)}')
    va = np.array([float(a[s]) for s in seeds])
    vb = np.array([float(b[s]) for s in seeds])
    diffs = va - vb
    std_a, std_b = _std(va), _std(vb)
    mean = float(diffs.mean())
    return dict(seeds=seeds, diffs=[float(d) for d in diffs], mean=mean, std=_std(diffs),
                min=float(diffs.min()), max=float(diffs.max()), n=len(seeds), std_a=std_a,
                std_b=std_b, spread=max(std_a, std_b),
                inside_spread=inside_seed_spread(mean, std_a, std_b, len(seeds)))


def inside_seed_spread(mean_diff: float, std_a: float, std_b: float,
                       n: int) -> Optional[bool]:
    """Whether a mean difference lies inside the seed spread (the module's rule).

    Args:
        mean_diff: mean over seeds of the per-seed differences.
        std_a, std_b: each method's sample standard deviation over the same seeds.
        n: the number of shared seeds.

    Returns:
        ``|mean_diff| <= max(std_a, std_b)``; ``None`` for fewer than 2 seeds (no spread).
    """
    if n < 2:
        return None
    return bool(abs(mean_diff) <= max(std_a, std_b))


def _stat_cell(values: Sequence[float], digits: int) -> str:
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    if v.size == 0:
        return '-'
    return f'{v.mean():.{digits}f} ± {_std(v):.{digits}f}'


def format_methods_rows(methods: Sequence[Mapping], columns: Sequence[Tuple[str, str, int]],
                        first_header: str = 'method') -> List[str]:
    """The Markdown methods table: header, separator and one row per method.

    Args:
        methods: one dict per method, in table order: ``label`` (str), ``transductive``
            (bool, optional: the label gets :data:`TRANSDUCTIVE_MARK`), ``values`` (column
            key -> the per-seed values; a missing or empty column is shown as ``-``).
        columns: ``(key, header, digits)`` per column after the label.
        first_header: the label column's header.

    Returns:
        the lines; each cell is ``mean ± std`` over the method's seeds (std: sample, ddof 1;
        0 for one seed) with ``digits`` decimals.
    """
    lines = [f'| {first_header} | ' + ' | '.join(h for _, h, _ in columns) + ' |',
             '|---|' + '---|' * len(columns)]
    for m in methods:
        label = m['label'] + (TRANSDUCTIVE_MARK if m.get('transductive') else '')
        values = m.get('values') or {}
        cells = [_stat_cell(values.get(key) or [], digits) for key, _, digits in columns]
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return lines


def format_paired_difference(name: str, diff: Mapping, digits: int = 1) -> str:
    """One Markdown list item for a :func:`paired_difference` result.

    Example: ``- A - B: -1.0 ± 1.0 (min -2.0, max +0.0) over seeds [0, 1]; per seed 0: -2.0,
    1: +0.0; inside the seed spread (|-1.0| <= 2.1, the larger seed std)``.
    """
    f = f'+.{digits}f'
    per_seed = ', '.join(f'{s}: {d:{f}}' for s, d in zip(diff['seeds'], diff['diffs']))
    inside = diff['inside_spread']
    if inside is None:
        verdict = 'one seed: no spread to judge against'
    else:
        verdict = (f'{"inside" if inside else "OUTSIDE"} the seed spread '
                   f'(|{diff["mean"]:.{digits}f}| {"<=" if inside else ">"} '
                   f'{diff["spread"]:.{digits}f}, the larger seed std)')
    return (f'- {name}: {diff["mean"]:{f}} ± {diff["std"]:.{digits}f} (min {diff["min"]:{f}}, '
            f'max {diff["max"]:{f}}) over seeds {list(diff["seeds"])}; per seed {per_seed}; '
            f'{verdict}')
