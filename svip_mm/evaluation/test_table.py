"""The one table ``tools/test.py`` prints: the GZSL blocks, the patch selection, the rest."""
import math
from typing import Dict, Optional


def _fmt(value: Optional[float], spec: str = '8.2f') -> str:
    width = int(spec.lstrip('+-').split('.')[0] or 0)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '-'.rjust(width)
    return format(value, spec)


def format_test_table(metrics: Dict[str, float], gamma: Optional[float] = None,
                 n_seen: Optional[int] = None, n_unseen: Optional[int] = None,
                 title: str = 'Test') -> str:
    """One table of the test metrics: the GZSL blocks, then the patch-selection figures,
    then any other metric.

    Args:
        metrics: as returned by ``Runner.test()`` (keys of ``GZSLMetric`` and
            ``PatchSelectionMetric``; others are listed at the end).
        gamma: the honest block's calibration (``GZSLMetric.gamma``), shown in its row.
        n_seen, n_unseen: test-seen / test-unseen sample counts for the title.
        title: the first line.
    """
    counts = ''
    if n_seen is not None:
        counts = f': {n_seen} test-seen + {n_unseen} test-unseen images'
    lines = [f'{title}{counts}', 'ZSL / GZSL, per-class mean top-1 (%)',
             f"  {'block':<9}{'gamma':>8}{'T1':>8}{'U':>8}{'S':>8}{'H':>8}"]
    notes = dict(honest='gamma from the config: the result to quote',
                 oracle='UPPER BOUND: gamma tuned on the test set, not a result',
                 official='official SVIP protocol (gamma tuned on the test set, per-SAMPLE '
                 'accuracy): only for parity with published tables')
    shown = set()
    for block, prefix in (('honest', 'gzsl'), ('oracle', 'oracle'), ('official', 'official')):
        if f'{prefix}/H' not in metrics:
            continue
        keys = [f'{prefix}/{k}' for k in ('U', 'S', 'H', 'gamma')]
        t1 = metrics.get('zsl/top1') if block == 'honest' else None
        row_gamma = gamma if block == 'honest' else metrics.get(f'{prefix}/gamma')
        if block == 'honest':
            keys.append('zsl/top1')
        shown.update(keys)
        lines.append(f'  {block:<9}{_fmt(row_gamma, "+8.3f")}{_fmt(t1)}'
                     f'{_fmt(metrics[prefix + "/U"])}{_fmt(metrics[prefix + "/S"])}'
                     f'{_fmt(metrics[prefix + "/H"])}   {notes[block]}')
    selection = {k: v for k, v in metrics.items() if k.startswith('selection/')}
    if selection:
        shown.update(selection)
        lines.append('Patch selection vs ground-truth masks (AUROC for "background unit"; '
                     'precision of the kept set on foreground units, %)')
        lines.append(f"  {'scorer':<11}{'AUROC':>8}{'prec.':>8}")
        for who in ('selector', 'attention'):
            if f'selection/{who}_auroc' in selection:
                lines.append(f'  {who:<11}{_fmt(selection[f"selection/{who}_auroc"], "8.3f")}'
                             f'{_fmt(selection[f"selection/{who}_precision"], "8.1f")}')
        sel = {k.split('/', 1)[1]: _fmt(v, '.1f') for k, v in selection.items()}
        lines.append(f"  precision by chance {sel.get('chance_precision', '-')}, best possible "
                     f"{sel.get('max_precision', '-')}; {sel.get('background_units', '-')}% of "
                     'units are background')
    others = {k: v for k, v in metrics.items() if k not in shown}
    if others:
        lines.append('Other metrics')
        lines.extend(f'  {k}: {v:.4g}' if isinstance(v, float) else f'  {k}: {v}'
                     for k, v in sorted(others.items()))
    return '\n'.join(lines)
