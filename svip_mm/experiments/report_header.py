"""The lines every experiment report starts with: where it comes from, and what made it."""
import datetime
import os
import platform
from typing import Dict, List, Sequence

import torch


def report_header(title: str, experiment: str, argv: Sequence[str],
                  records: Dict[str, List[dict]]) -> List[str]:
    """A note that the file is written by the tool, the ``# title``, and the provenance: the
    command line (``argv``: the tool's arguments), date, machine, torch, the seeds and thread
    counts of ``records`` (variant key -> its runs' records)."""
    return [f'<!-- written by tools/run_ablation.py {experiment}; edit the text around the '
            'tables in docs/results.md, not here -->',
            f'# {title}: {experiment}', '',
            f'Report written by `python tools/run_ablation.py {" ".join(argv)}` on '
            f'{datetime.date.today()} ({platform.processor() or platform.machine()}, '
            f'{os.cpu_count()} CPUs, torch {torch.__version__}); seeds '
            f'{sorted({r["seed"] for runs in records.values() for r in runs})}; each run '
            f'trained with {_threads(records)} thread(s). Wall times are per run and depend on '
            'what else ran on the machine at the time.']


def _threads(records: Dict[str, List[dict]]) -> str:
    """The runs' thread counts, ``/``-separated (``?`` for a record without one)."""
    return '/'.join(str(t) for t in sorted({r.get('threads', '?') for runs in records.values()
                                             for r in runs}, key=str))
