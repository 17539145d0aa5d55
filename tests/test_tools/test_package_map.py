"""tools/package_map.py: lines per subpackage and the import picture, relative imports resolved."""
import subprocess
import sys

import pytest

from repo import TOOLS, load_tool

package_map = load_tool('package_map').package_map
TOOL = TOOLS / 'package_map.py'


def _write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _tree(root):
    _write(root, 'svip_mm/__init__.py', 'from . import models\nfrom .version import v\n')
    _write(root, 'svip_mm/version.py', 'v = 1\n')
    _write(root, 'svip_mm/models/__init__.py', 'from .heads import h\n')
    # two levels down: `...utils` is svip_mm.utils, `..blocks` is svip_mm.models.blocks
    _write(root, 'svip_mm/models/heads/__init__.py',
           'from ...utils.io import read\nfrom ..blocks import b\nimport os\nh = 1\n')
    _write(root, 'svip_mm/models/blocks.py', 'b = 1\n')
    _write(root, 'svip_mm/utils/__init__.py', '')
    _write(root, 'svip_mm/utils/io.py', 'def read():\n    pass\n')
    _write(root, 'svip_mm/engine/__init__.py',
           'import svip_mm.models.heads\nfrom svip_mm import utils\nfrom .. import datasets\n')
    _write(root, 'svip_mm/datasets/__init__.py', '# nothing\n\n')


def test_lines_and_imports_resolve_relative_and_absolute_forms(tmp_path):
    _tree(tmp_path)
    lines, deps = package_map(tmp_path)
    assert lines == {'(top)': 3, 'models': 6, 'utils': 2, 'engine': 3, 'datasets': 2}
    assert deps == {'(top)': {'models'}, 'models': {'utils'}, 'utils': set(),
                    'engine': {'models', 'datasets', 'utils'}, 'datasets': set()}


def test_command_line_prints_one_row_per_package_and_names_a_wrong_root(tmp_path):
    _tree(tmp_path)
    out = subprocess.run([sys.executable, str(TOOL), '--root', str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[2].split() == ['engine', '3', 'lines', '->', 'datasets', 'models', 'utils']
    assert out[4].split() == ['utils', '2', 'lines', '->', '-']
    with pytest.raises(FileNotFoundError, match='svip_mm/__init__.py not found'):
        package_map(tmp_path / 'svip_mm')
