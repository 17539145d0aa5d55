"""Line count per svip_mm subpackage and which other subpackages it imports.

For a reviewer of the package's layering (which package may import which). Imports are read with
``ast`` (absolute ``svip_mm.x`` and relative ``..x`` alike, resolved against the importing file),
so nothing is imported or executed.

    python tools/package_map.py                 # this checkout
    python tools/package_map.py --root OTHER    # another tree, for example one made by
                                                # git archive REV svip_mm | tar -x -C OTHER
"""
import argparse
import ast
import collections
from pathlib import Path
from typing import Dict, List, Set, Tuple

TOP = '(top)'  # modules directly in svip_mm/


def _imported_modules(tree: ast.AST, package: List[str]) -> List[str]:
    """Dotted names imported by a module whose package path is ``package``."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                name = node.module or ''
            else:
                if node.level - 1 > len(package):
                    raise ValueError(f'relative import beyond the top package in {package}')
                base = package[:len(package) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            # `from svip_mm import utils` names the subpackage in the imported names
            names += [name] + [f'{name}.{a.name}' for a in node.names]
    return names


def package_map(root: Path, top: str = 'svip_mm') -> Tuple[Dict[str, int], Dict[str, Set[str]]]:
    """Lines per subpackage of ``root/top`` and the other subpackages each one imports.

    Lines of modules directly in ``root/top`` go to ``'(top)'``; only imports of subpackages
    (folders with an ``__init__.py``) count.
    """
    pkg_dir = root / top
    if not (pkg_dir / '__init__.py').is_file():
        raise FileNotFoundError(f'{pkg_dir}/__init__.py not found: --root must hold the {top} '
                                'package')
    subpackages = {p.parent.name for p in pkg_dir.glob('*/__init__.py')}
    lines: Dict[str, int] = collections.Counter()
    deps: Dict[str, Set[str]] = collections.defaultdict(set)
    for path in sorted(pkg_dir.rglob('*.py')):
        parts = path.relative_to(root).with_suffix('').parts  # (top, sub, ..., module)
        own = parts[1] if len(parts) > 2 else TOP
        text = path.read_text()
        lines[own] += len(text.splitlines())
        for name in _imported_modules(ast.parse(text, filename=str(path)), list(parts[:-1])):
            dotted = name.split('.')
            if dotted[0] == top and len(dotted) > 1 and dotted[1] in subpackages - {own}:
                deps[own].add(dotted[1])
    return dict(lines), {k: deps.get(k, set()) for k in lines}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', type=Path, default=Path(__file__).resolve().parents[1],
                        help='folder holding the svip_mm package (default: this checkout)')
    args = parser.parse_args(argv)
    lines, deps = package_map(args.root)
    for name in sorted(lines):
        print(f'{name:14s} {lines[name]:6d} lines -> {" ".join(sorted(deps[name])) or "-"}')


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
