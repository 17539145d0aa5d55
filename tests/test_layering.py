"""Package layering: model code and shared utilities never import the engine."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'svip_mm'


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
