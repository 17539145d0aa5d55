"""Validate a downloaded xlsa17-format ZSL dataset and list what is missing.

Compares the files under a data root with the known counts of the benchmark (classes
seen/unseen, images per split, attribute dimension; docs/method.md, section 9.1) and checks
that every listed image exists. Exit status 0 when everything matches, 1 otherwise.

Examples::

    python tools/check_dataset.py ZSLCUB --data-root data/CUB
    python tools/check_dataset.py ZSLAWA2 --data-root /data/AwA2 --data-prefix JPEGImages
    python tools/check_dataset.py --config configs/_base_/datasets/zsl_sun.py
    python tools/check_dataset.py ZSLXlsa17Dataset --data-root data/MINE --no-expected-counts
"""
import argparse
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('dataset', nargs='?', default=None,
                   help='dataset class: ZSLCUB, ZSLAWA2, ZSLSUN, ZSLXlsa17Dataset or any '
                   'registered subclass (default: the type in --config)')
    p.add_argument('--config', help='read the dataset settings of a config '
                   '(train_dataloader.dataset); other options override them')
    p.add_argument('--data-root', help='dataset folder (default: the class default)')
    p.add_argument('--ann-file', help='res101.mat, relative to the data root')
    p.add_argument('--att-splits-file', help='att_splits.mat, relative to the data root')
    p.add_argument('--data-prefix', help='image folder, relative to the data root')
    p.add_argument('--path-anchor', help="path component after which the authors' image "
                   "paths are kept (e.g. 'images/'); 'none' for relative paths")
    p.add_argument('--attribute-names-file', help='attribute names file (.txt or .mat)')
    p.add_argument('--no-expected-counts', action='store_true',
                   help='do not compare counts with the benchmark table')
    p.add_argument('--max-paths', type=int, default=20, help='missing images to print')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import svip_mm  # noqa: F401  (registers the datasets)
    from mmpretrain.registry import DATASETS

    settings = {}
    if args.config:
        from svip_mm.utils.config_file import read_config
        dataset_cfg = read_config(args.config).train_dataloader.dataset.to_dict()
        settings = {k: v for k, v in dataset_cfg.items()
                    if k not in ('type', 'pipeline', 'split', 'test_mode', 'lazy_init')}
        args.dataset = args.dataset or dataset_cfg['type']
    if not args.dataset:
        print('give a dataset class or --config', file=sys.stderr)
        return 2
    cls = DATASETS.get(args.dataset)
    if cls is None or not hasattr(cls, 'check'):
        print(f'{args.dataset!r} is not a registered xlsa17-format dataset '
              '(expected ZSLCUB, ZSLAWA2, ZSLSUN, ZSLXlsa17Dataset or a subclass)',
              file=sys.stderr)
        return 2
    for name in ('data_root', 'ann_file', 'att_splits_file', 'data_prefix', 'path_anchor',
                 'attribute_names_file'):
        value = getattr(args, name)
        if value is not None:
            settings[name] = None if name == 'path_anchor' and value.lower() == 'none' else value
    if args.no_expected_counts:
        settings['expected_counts'] = None
    report = cls.check(**settings)
    print(report.format(max_paths=args.max_paths))
    return 0 if report.ok else 1


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
