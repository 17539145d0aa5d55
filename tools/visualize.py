#!/usr/bin/env python
"""Draw what a ZSL model does on one image, with every panel the model can give: attention per
layer and its rollout (any ViT whose attention can be read: SVIP's ViT returns it, mmpretrain's
VisionTransformer is read by hooks on its attention modules), the selector's choice (kept vs
contextualised units, its probabilities, and for synthetic images the ground-truth mask; SVIP
only) and the localisation of the top predicted attributes (any head with ``attribute_maps``,
SVIP's on its inference pass). A panel the model cannot give is left out, and one printed line
(also at the foot of the figure) says why.

    python tools/visualize.py CONFIG CHECKPOINT IMAGE --out FILE.png
        [--mask auto|none|MASK.png] [--top-attributes 4] [--device cpu] [--dpi 120]
        [--word-vectors FILE.npy] [--cfg-options k=v ...]

``--mask auto`` (default) uses the synthetic dataset's mask of the image when there is one
(``<root>/images/<class>/<name>`` -> ``<root>/masks/<class>/<name>``); it is drawn beside the
selection, so only for SVIP. Nothing is generated:
the model comes from the config and the checkpoint alone (see ``svip_mm.apis``). The image,
of any size, is brought to the model's input size as the config's test pipeline does (when it
has no resize: short edge to the backbone's ``img_size``, central square), so every panel
shows the model's grid; the ground-truth mask is resized and cropped as the image is.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from matplotlib.backend_bases import FigureCanvasBase  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

import svip_mm  # noqa: E402,F401
from svip_mm.apis import ZSLInferencer  # noqa: E402
from svip_mm.visualization import unavailable_lines  # noqa: E402


def synthetic_mask_path(image: str):
    """The synthetic dataset's mask of ``image`` (the last ``images`` folder of its path
    replaced by ``masks``), or None when there is no such file."""
    parts = osp.abspath(image).split(os.sep)
    if 'images' not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index('images')
    path = os.sep.join(parts[:i] + ['masks'] + parts[i + 1:])
    return path if osp.isfile(path) else None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Figure of attention, patch selection (SVIP) '
                                     'and attribute localisation of a ZSL model on one image')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('image')
    parser.add_argument('--out', required=True, help='the figure file (.png, .pdf, .svg)')
    parser.add_argument('--mask', default='auto', help="ground-truth foreground mask: 'auto' "
                        "(the synthetic dataset's, if any), 'none', or a mask image path")
    parser.add_argument('--top-attributes', type=int, default=4,
                        help='attributes to localise (default 4)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dpi', type=int, default=120)
    parser.add_argument('--word-vectors', help='.npy word vectors of the attribute names, only '
                        'needed when the checkpoint does not hold what they initialise')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    for what, path in (('image', args.image), ('checkpoint', args.checkpoint),
                       ('config', args.config)):
        if not osp.isfile(path):
            parser.error(f'{what} not found: {path}')
    if args.mask not in ('auto', 'none') and not osp.isfile(args.mask):
        parser.error(f'--mask {args.mask}: no such file (or use auto / none)')
    # before the model is built: a wrong --out would fail only after all the work
    formats = FigureCanvasBase.get_supported_filetypes()
    ext = osp.splitext(args.out)[1].lstrip('.').lower()
    if ext not in formats:
        parser.error(f'--out {args.out}: expected a figure file ending in one of '
                     f'{", ".join("." + f for f in sorted(formats))}')
    return args


def main(argv=None) -> str:
    args = parse_args(argv)
    try:
        inferencer = ZSLInferencer(args.config, args.checkpoint, device=args.device,
                                   word_vectors=args.word_vectors, cfg_options=args.cfg_options)
    except (ValueError, FileNotFoundError, TypeError) as err:  # unreadable, mismatched, no ZSL
        raise SystemExit(f'error: {err}') from None
    mask = {'auto': synthetic_mask_path(args.image), 'none': None}.get(args.mask, args.mask)
    if mask is not None and not inferencer.has_selection:
        if args.mask != 'auto':
            print(f'--mask {mask}: not drawn, the ground-truth mask is shown beside the patch '
                  'selection, which this model does not have', flush=True)
        mask = None
    try:
        with torch.no_grad():
            fig, analysis = inferencer.visualize(args.image, gt_mask=mask,
                                                 top_attributes=args.top_attributes,
                                                 return_analysis=True)
    except (ValueError, FileNotFoundError) as err:  # an unusable image: its message, no trace
        raise SystemExit(str(err)) from None
    for line in unavailable_lines(analysis):
        print(line, flush=True)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=args.dpi)
    print(f'wrote {args.out}: ' + ', '.join(analysis.panels)
          + (f' (ground-truth mask {mask})' if mask else ''), flush=True)
    return args.out


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
