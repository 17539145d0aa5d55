"""The repository's paths, and its tools and notebooks' helpers as modules, for the tests.

The tests import the tools (``tools/*.py`` are scripts, not a package) by file path here
instead of editing ``sys.path``; ``pytest.ini`` puts this folder on the path.
"""
import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / 'tools'


def load_module(path, name: str) -> ModuleType:
    """The Python file ``path`` as a fresh module named ``name`` (not put in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a module (named ``tool_<name>``, so that ``test`` does not
    shadow the standard library's package)."""
    return load_module(TOOLS / f'{name}.py', f'tool_{name}')
