"""Package layering: model code and shared utilities never import the engine."""
import ast
from pathlib import Path

from repo import REPO

PACKAGE = REPO / 'svip_mm'


def _imported_modules(path: Path):
    """Absolute names of the svip_mm modules a file imports (relative imports resolved)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    here = parts[:-1]  # the package the file is in (for __init__.py: its own)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                yield '.'.join(base + ([node.module] if node.module else []))
            else:
                yield node.module or ''


def test_models_and_utils_do_not_import_the_engine():
    offenders = [f'{path.relative_to(PACKAGE.parent)} imports {name}'
                 for sub in ('models', 'utils') for path in sorted((PACKAGE / sub).rglob('*.py'))
                 for name in _imported_modules(path)
                 if name == 'svip_mm.engine' or name.startswith('svip_mm.engine.')]
    assert offenders == []


def test_the_resolver_sees_relative_engine_imports():
    # the check above must not pass only because relative imports go unseen
    names = set(_imported_modules(PACKAGE / 'engine' / 'checkpoint_hook.py'))
    assert 'svip_mm.utils.checkpoint_format' in names
    assert 'svip_mm.models.heads.class_table' in names


def _imported_names(path: Path):
    """:func:`_imported_modules` plus ``module.name`` for every ``from module import name``
    (the name may be a submodule, as in ``from . import xlsa17``)."""
    yield from _imported_modules(path)
    parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    here = parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = (here[:len(here) - node.level + 1] if node.level else []) + (
                [node.module] if node.module else [])
            yield from ('.'.join(base + [alias.name]) for alias in node.names)


def _datasets_module(name: str) -> str:
    return f'svip_mm.datasets.{name}'


def test_check_mode_and_xlsa17_datasets_do_not_import_each_other():
    # issue 15: check.py and xlsa17.py both use the file format of xlsa17_format.py; the dataset
    # classes use the check mode (ZSLXlsa17Dataset.check), never the other way round, not even
    # lazily inside a function (ast.walk sees those imports too)
    folder = PACKAGE / 'datasets'
    imports = {name: set(_imported_names(folder / f'{name}.py'))
               for name in ('check', 'xlsa17', 'xlsa17_format')}
    check, xlsa17 = _datasets_module('check'), _datasets_module('xlsa17')
    assert xlsa17 not in imports['check'] and not any(
        name.startswith(xlsa17 + '.') for name in imports['check'])
    assert not {check, xlsa17} & imports['xlsa17_format']
    assert not any(name.startswith((check + '.', xlsa17 + '.'))
                   for name in imports['xlsa17_format'])
    assert not {'svip_mm.datasets', 'svip_mm'} & (imports['check'] | imports['xlsa17_format'])
    # the resolver sees this file's relative imports (else the checks above pass vacuously)
    assert check in imports['xlsa17']
    assert _datasets_module('xlsa17_format') in imports['check']


def test_datasets_modules_import_each_other_one_way():
    # no import cycle between the modules of svip_mm.datasets (package __init__ files, which
    # import their own modules to re-export them, are not nodes of the graph)
    folder = PACKAGE / 'datasets'
    modules = {'.'.join(path.relative_to(PACKAGE.parent).with_suffix('').parts): path
               for path in folder.rglob('*.py') if path.name != '__init__.py'}
    graph = {name: {m for m in _imported_names(path) if m in modules and m != name}
             for name, path in modules.items()}
    assert graph[_datasets_module('xlsa17')], 'the resolver saw no import'

    def cycle_from(start, trail):
        for nxt in sorted(graph[start]):
            if nxt in trail:
                return trail[trail.index(nxt):] + [nxt]
            found = cycle_from(nxt, trail + [nxt])
            if found:
                return found
        return None

    cycles = [c for c in (cycle_from(name, [name]) for name in sorted(graph)) if c]
    assert cycles == []
