"""svip_mm.experiments: synthetic-data experiments (several configs x several seeds) and their
reports; ``tools/run_ablation.py`` is their command line.

An experiment is a data file, ``configs/experiments/<name>.py`` (:mod:`.spec`): its variants
(a key, a label and a config each; configs that differ in one thing), the criteria its report
checks, and which variants get their attention measured. A new experiment is a new file there.

- :mod:`.runs`: one run, ``tools/train.py CONFIG --cfg-options randomness.seed=SEED`` in its
  own process; reused when finished from the same resolved config, options and pretrained
  backbone, refused (never overwritten) when made from anything else, resumed from its
  checkpoint when it stopped before its result; re-evaluated (``--retest``) or probed for
  its attention AUROC.
- :mod:`.calibrated_run`: with ``calibrate = True`` in the data file (``methods``), every
  finished run calibrated without the test set in ``<run>/calibration``.
- :mod:`.experiment`: the whole experiment (data preparation, the runs ``--jobs`` at a time,
  the report).
- :mod:`.ablation_report` (mean, std and range over seeds per variant, the criteria, a
  figure) and :mod:`.methods_report` (one table per regime, test-tuned figures labelled,
  paired per-seed differences against a reference); :mod:`.report_header`, their first lines.
- the repository checkout the tools run in: ``svip_mm.utils.repository.REPO``.

``import svip_mm`` does not import this subpackage, and importing it reads no file: the data
files are read when first asked for (:func:`.spec.read_experiments`).
"""
