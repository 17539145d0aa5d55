#!/usr/bin/env python
"""Write the synthetic zero-shot-learning dataset (xlsa17 on-disk format).

Examples::

    python tools/make_synthetic_zsl.py                          # data/synthetic_zsl, default preset
    python tools/make_synthetic_zsl.py --no-clutter --out data/synthetic_zsl_clean
    python tools/make_synthetic_zsl.py --preset large --out data/synthetic_zsl_large
    python tools/make_synthetic_zsl.py --set images_per_class=8 --set n_unseen=5

The command line describes the whole dataset (options not given: the preset's values). An
existing dataset with the same parameters is kept, and any of its files that are missing are
written again (identical: generation is deterministic). A dataset with other parameters is
refused with an error listing them, unless ``--overwrite`` is given; ``--force`` rewrites even
an identical one. Either replaces only the generator's own files and refuses a folder that also
holds other files (e.g. word vectors extracted from the attribute names), naming them. See
:mod:`svip_mm.datasets.synthetic_zsl` for the layout.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

# Usable from a fresh clone without installing the package or setting PYTHONPATH.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from svip_mm.datasets.synthetic_zsl import (PRESETS, ensure_synthetic_zsl,  # noqa: E402
                                            generate_synthetic_zsl, load_synthetic_meta,
                                            resolve_params)


def parse_override(text: str):
    """Parse ``KEY=VALUE``; VALUE is JSON (``8``, ``[3,6]``, ``["red","blue"]``) or a string."""
    if '=' not in text:
        raise argparse.ArgumentTypeError(f'--set {text!r}: expected KEY=VALUE')
    key, value = text.split('=', 1)
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/synthetic_zsl',
                        help='dataset root to write (default: %(default)s)')
    parser.add_argument('--preset', default='default', choices=sorted(PRESETS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--no-clutter', action='store_true',
                        help='clean backgrounds (same classes, split and objects)')
    parser.add_argument('--images-per-class', type=int, default=None)
    parser.add_argument('--set', dest='overrides', type=parse_override, action='append',
                        default=[], metavar='KEY=VALUE',
                        help='override any preset parameter, e.g. --set clutter_shapes=[5,9]; '
                             f"keys: {', '.join(sorted(PRESETS['default']))}")
    parser.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1),
                        help='rendering processes (the output does not depend on it)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace a dataset made with other parameters (only the '
                             "generator's files; refused if the folder holds other files)")
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if an identical dataset is already there '
                             '(implies --overwrite)')
    args = parser.parse_args(argv)

    overrides = dict(args.overrides)
    if args.images_per_class is not None:
        overrides['images_per_class'] = args.images_per_class
    t0 = time.time()
    try:
        # every parameter given, so that an existing dataset must match all of them
        params = resolve_params(args.preset, args.seed, args.image_size, not args.no_clutter,
                                **overrides)
        params.pop('format_version')
        if args.force:
            out = generate_synthetic_zsl(args.out, workers=args.workers, **params)
        else:
            out = ensure_synthetic_zsl(args.out, workers=args.workers,
                                       on_mismatch='regenerate' if args.overwrite else 'raise',
                                       **params)
    except (ValueError, OSError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    meta = load_synthetic_meta(out)
    counts = meta['counts']
    print(f'{out}: {counts["classes"]} classes ({counts["seen_classes"]} seen / '
          f'{counts["unseen_classes"]} unseen), {counts["attributes"]} attributes, '
          f'{counts["images"]} images (trainval {counts["trainval_loc"]}, test_seen '
          f'{counts["test_seen_loc"]}, test_unseen {counts["test_unseen_loc"]}) '
          f'in {time.time() - t0:.1f} s')
    return 0


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
