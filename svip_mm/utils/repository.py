"""The repository checkout svip_mm runs its tools in (experiments, the pretraining step).

An experiment starts the repository's tools (``tools/train.py``, ``tools/test.py``,
``tools/calibrate.py``) as subprocesses, in the repository, and reads files named relative to
it (``configs/experiments/*.py`` and the configs they list); the ``pretrained_backbone``
data-preparation step starts ``tools/train.py`` too. None of these is part of the
installed package, so svip_mm must be imported from the checkout itself: installed editable
(``pip install -e .``), or from ``tools/run_ablation.py``, which puts its own checkout first
on ``sys.path``. :data:`REPO` is then the folder holding the ``svip_mm`` package; it is the
one place the library takes the repository from.
"""
import os.path as osp

#: the repository root: the folder above the ``svip_mm`` package (absolute, symlinks kept)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
