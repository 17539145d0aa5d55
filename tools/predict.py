#!/usr/bin/env python
"""Zero-shot prediction for images with a trained checkpoint of any ZSL model: SVIP, or
mmpretrain's ImageClassifier with a ZSL head (the "ViT + attribute head" baseline, APN,
TransZero).

    python tools/predict.py CONFIG CHECKPOINT IMAGE [IMAGE ...] [--topk 5]
        [--top-attributes 5] [--classes-table TABLE.csv|TABLE.npy [--class-names FILE]
        [--extend]] [--device cpu] [--word-vectors FILE.npy] [--out FILE.json]
        [--cfg-options k=v ...]

Images of any size are brought to the model's input size as the config's test pipeline does
(its resize / crop steps; when it has none, short edge to the backbone's ``img_size`` and the
central square). Prints, per image, the top-k classes over seen and unseen classes (score,
unseen or seen) and the top attributes (the model's ``pred_attributes``); for SVIP also the
keep mask on the unit grid (8x8 for the default config; ``#`` kept, ``.`` given the context
token); a model without a patch selector says so in one line. An image that cannot be read
or resized stops the run with one message naming it. ``--classes-table`` scores the classes
of a table instead (with ``--extend``: as well), each by the head's ``score_classes``; a CSV
holds ``name, [unseen,] K attribute values`` per row with an optional header (see
``svip_mm.apis.class_table``); an ``.npy`` ``[C, K]`` array takes its names from
``--class-names`` (one per line). ``--out`` writes the results as JSON (``svip_mm.apis``
describes every key).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

import svip_mm  # noqa: E402,F401
from svip_mm.apis import ZSLInferencer  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Zero-shot prediction with a checkpoint of '
                                     'any ZSL model (SVIP, baseline, APN, TransZero)')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+', metavar='IMAGE')
    parser.add_argument('--topk', type=int, help='classes to list (default 5; all classes '
                        'when there are fewer than asked)')
    parser.add_argument('--top-attributes', type=int,
                        help='attributes to list (default 5; all when there are fewer than '
                        'asked)')
    parser.add_argument('--classes-table', metavar='TABLE',
                        help='the classes to score, by their attribute values: a .csv with one '
                        'class per row, "name,[unseen,]a_1,...,a_K" (K: the model\'s attribute '
                        'count; an optional first row names the columns, and only with it an '
                        '"unseen" column of 1/0 marks unseen classes), or a .npy [C, K] array '
                        'whose class names come from --class-names')
    parser.add_argument('--class-names', help='with an .npy table: a text file, one class '
                        'name per line')
    parser.add_argument('--extend', action='store_true', help='score the table\'s classes '
                        'besides the checkpoint\'s instead of replacing them')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--word-vectors', help='.npy word vectors of the attribute names, only '
                        'needed when the checkpoint does not hold what they initialise')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--out', help='write the results as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    for what, path in (('checkpoint', args.checkpoint), ('config', args.config)):
        if not osp.isfile(path):
            parser.error(f'{what} not found: {path}')
    missing = [p for p in args.images if not osp.isfile(p)]
    if missing:
        parser.error(f'image not found: {", ".join(missing)}')
    if (args.class_names or args.extend) and not args.classes_table:
        parser.error('--class-names and --extend need --classes-table')
    return args


def format_result(result: dict) -> str:
    """A readable block for one image's result."""
    name = result['img_path'] or '(array)'
    if result.get('ori_shape') and result.get('input_shape'):
        (h, w), (mh, mw) = result['ori_shape'], result['input_shape']
        name += f'  ({h}x{w} px, model input {mh}x{mw})'
    lines = [name]
    width = max(len(t['class_name']) for t in result['topk'])
    lines.append(f"  top-{len(result['topk'])} classes")
    for t in result['topk']:
        lines.append(f"  {t['rank']:>3}  {t['class_name']:<{width}}  {t['score']:.4f}  "
                     f"{'unseen' if t['unseen'] else 'seen'}")
    lines.append('  top attributes: ' + ', '.join(f"{a['name']} {a['score']:.3f}"
                                                 for a in result['attributes']))
    if 'keep_mask' not in result:
        return '\n'.join(lines)
    rows, cols = result['unit_grid']
    keep = np.asarray(result['keep_mask']).reshape(rows, cols)
    lines.append(f'  keep mask ({rows}x{cols} units, {int(keep.sum())} kept: # kept, '
                 '. context token)')
    lines.extend('    ' + ''.join('#' if k else '.' for k in row) for row in keep)
    return '\n'.join(lines)


def _json_ready(result: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in result.items()}


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    try:
        inferencer = ZSLInferencer(args.config, args.checkpoint, device=args.device,
                                   word_vectors=args.word_vectors, cfg_options=args.cfg_options)
    except (ValueError, FileNotFoundError, TypeError) as err:  # unreadable, mismatched, no ZSL
        raise SystemExit(f'error: {err}') from None
    if args.classes_table:
        names = None
        if args.class_names:
            with open(args.class_names) as f:
                names = [line.strip() for line in f if line.strip()]
        try:
            inferencer.load_classes(args.classes_table, class_names=names, extend=args.extend)
        except (ValueError, FileNotFoundError) as err:
            raise SystemExit(f'--classes-table: {err}') from None
    try:
        results = inferencer(args.images, topk=args.topk, top_attributes=args.top_attributes,
                             batch_size=args.batch_size)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(str(err)) from None
    table = inferencer.classes
    model = type(inferencer.model).__name__ + ' with ' + type(inferencer.model.head).__name__
    print(f'{model}: {len(table)} classes ({int(table.unseen.sum())} unseen) from '
          f'{table.source}, {inferencer.num_attributes} attributes', flush=True)
    if not inferencer.has_selection:
        print('no keep mask: the model selects no patches (only SVIPClassifier has a patch '
              'selector)', flush=True)
    for result in results:
        print(format_result(result), flush=True)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump([_json_ready(r) for r in results], f, indent=1)
        print(f'wrote {args.out}', flush=True)
    return results


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
