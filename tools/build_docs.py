"""Build the documentation site (Sphinx + myst-nb) into ``docs/_build/html/index.html``.

    python tools/build_docs.py           # full: the tutorials with their own parameters
    python tools/build_docs.py --quick   # CI: the tutorials with the tests' small parameters

Steps:

1. Execute the tutorials (``tutorials/NN_*.ipynb``) with nbclient in a kernel of this very
   interpreter. The full build runs each notebook in ``tutorials/`` with its own defaults, as a
   reader would (outputs under ``work_dirs/tutorial_NN``, data under ``data/``). The quick build
   inserts a cell with the small parameters of ``tutorials/small_parameters.py`` (those of
   ``tests/test_docs/test_tutorials.py``) after the cell tagged ``parameters`` and runs in
   ``OUT/staging/run``. A cell that raises stops the build.
2. Cache: an executed notebook is kept under ``OUT/notebook_cache``, keyed on the notebook file,
   the injected parameters and the code it runs (``svip_mm/``, ``configs/``, ``tools/``, their
   docstrings and comments left out); a rebuild with none of them changed executes nothing.
3. Stage ``docs/`` (without ``_build``), ``README.md`` (included by the landing page) and the
   executed notebooks into ``OUT/staging``, laid out as in the repository (``docs/`` next to
   ``README.md``), so that the pages' relative paths hold in both.
4. ``sphinx-build -E -W``: any warning fails the build (a broken cross-reference or Markdown
   link, a docstring autodoc / napoleon cannot parse, a page missing from the toctree).

Exit status 0 when the site was built, 1 otherwise.
"""
import argparse
import ast
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / 'docs'
TUTORIALS = REPO / 'tutorials'
# the code a notebook's outputs depend on, besides the notebook itself
CODE_DIRS = ('svip_mm', 'configs', 'tools')
KERNEL = 'svip-mm-docs'
CELL_TIMEOUT = 3600  # seconds; a full tutorial 1 trains the default job in one cell


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Build the docs site (executes the tutorials, then sphinx-build -W).')
    parser.add_argument('--quick', action='store_true',
                        help='execute the tutorials with the small parameters of the tests '
                             '(tutorials/small_parameters.py) instead of their own')
    parser.add_argument('--out', type=Path, default=DOCS / '_build',
                        help='build folder; the site is OUT/html/index.html '
                             '(default: docs/_build)')
    parser.add_argument('--docs-dir', type=Path, default=DOCS,
                        help='the Sphinx sources to build (default: docs/)')
    parser.add_argument('--tutorials-dir', type=Path, default=TUTORIALS,
                        help='where the notebooks are read (default: tutorials/)')
    parser.add_argument('--cache-dir', type=Path, default=None,
                        help='executed-notebook cache (default: OUT/notebook_cache)')
    return parser.parse_args(argv)


def quick_paths(name: str) -> dict:
    """The path parameters of a quick run of notebook ``name``, relative to its working
    folder (``OUT/staging/run``) so that the cache key does not depend on OUT."""
    stem = name.split('_', 1)[0]
    paths = dict(repo_root=str(REPO), data_root='synthetic_zsl',
                 work_dir=f'work_dirs/tutorial_{stem}')
    if name.startswith('02_'):
        # as in tests/test_docs/test_tutorials.py: trains its own tiny model, whatever ran before
        paths['tutorial1_dir'] = 'work_dirs/no_tutorial_1'
    if name.startswith('04_'):
        paths.update(dataset='cub', data_root='no_download')
    return paths


def injected_parameters(name: str, quick: bool):
    """The parameters inserted after the notebook's ``parameters`` cell (None: none)."""
    if not quick:
        return None
    sys.path.insert(0, str(TUTORIALS))
    try:
        from small_parameters import SMALL_PARAMETERS, small_parameters
    finally:
        sys.path.remove(str(TUTORIALS))
    if name not in SMALL_PARAMETERS:
        raise SystemExit(f'error: {name} has no small parameters in '
                         'tutorials/small_parameters.py (needed by --quick and the tests)')
    return small_parameters(name, **quick_paths(name))


def _code_only(source: str) -> str:
    """The syntax tree of ``source`` without its docstrings (comments are not in it)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, 'body', None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_digest() -> str:
    """SHA-256 over the Python sources the notebooks run (paths and code; a change to a
    docstring or a comment alone does not execute the notebooks again)."""
    digest = hashlib.sha256()
    for folder in CODE_DIRS:
        for path in sorted((REPO / folder).rglob('*.py')):
            try:
                code = _code_only(path.read_text())
            except (SyntaxError, UnicodeDecodeError):
                code = path.read_bytes().decode('latin-1')
            digest.update(str(path.relative_to(REPO)).encode() + b'\0' + code.encode())
    return digest.hexdigest()


def cache_key(notebook: Path, params, code: str) -> str:
    digest = hashlib.sha256(notebook.read_bytes())
    digest.update(json.dumps(params, sort_keys=True, default=repr).encode())
    digest.update(code.encode())
    return digest.hexdigest()[:20]


def make_kernelspec(root: Path) -> list:
    """A kernelspec running this interpreter (no other Python on the machine is used)."""
    spec = root / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / 'kernel.json').write_text(json.dumps(dict(
        argv=[sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        display_name='svip_mm docs build', language='python')))
    return [str(root)]


def execute_notebook(path: Path, params, cwd: Path, kernel_dirs: list):
    """Execute the notebook at ``path`` in ``cwd``, ``params`` injected after its
    ``parameters`` cell; returns the executed notebook. A cell that raises raises here."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    if params is not None:
        index = [i for i, c in enumerate(nb.cells)
                 if 'parameters' in c.metadata.get('tags', [])]
        if len(index) != 1:
            raise SystemExit(f'error: {path.name}: expected one cell tagged "parameters", '
                             f'found {len(index)}')
        cell = nbformat.v4.new_code_cell(
            '# injected by tools/build_docs.py --quick (tutorials/small_parameters.py)\n'
            + '\n'.join(f'{key} = {value!r}' for key, value in params.items()))
        cell.metadata['tags'] = ['injected-parameters']
        nb.cells.insert(index[0] + 1, cell)
        note = nbformat.v4.new_markdown_cell(
            '```{note}\nThis page was built with `tools/build_docs.py --quick`: the notebook ran '
            'with the small parameters of the tests (tiny model, few images, 1-2 epochs), so '
            'its numbers and figures are not those of a real run. `python tools/build_docs.py` '
            'builds it with the notebook\'s own parameters.\n```')
        nb.cells.insert(1, note)
    for i, cell in enumerate(nb.cells):  # stable ids: the staged file changes only with content
        cell['id'] = f'cell-{i:02d}'
    cwd.mkdir(parents=True, exist_ok=True)
    km = KernelManager(kernel_name=KERNEL,
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs))
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, allow_errors=False,
                            resources={'metadata': {'path': str(cwd)}})
    try:
        client.execute()
    finally:  # nbclient leaves a kernel it did not start running
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    # the kernel must not be the machine's default one when the page is rendered either
    nb.metadata.kernelspec = dict(name='python3', display_name='Python 3', language='python')
    return nb


def executed_notebooks(args, cache: Path, kernel_dirs: list, run_dir: Path) -> dict:
    """Executed notebooks by file name, from the cache or executed now (then cached)."""
    import nbformat

    notebooks = sorted(args.tutorials_dir.glob('[0-9][0-9]_*.ipynb'))
    if not notebooks:
        raise SystemExit(f'error: no tutorials (NN_*.ipynb) in {args.tutorials_dir}')
    mode = 'quick' if args.quick else 'full'
    code = code_digest()
    cache.mkdir(parents=True, exist_ok=True)
    result = {}
    for path in notebooks:
        params = injected_parameters(path.name, args.quick)
        key = cache_key(path, params, code)
        cached = cache / f'{path.stem}.{mode}.{key}.ipynb'
        if cached.is_file():
            print(f'{path.name}: cached ({mode})', flush=True)
            result[path.name] = cached.read_text()
            continue
        if args.quick:
            cwd = run_dir
            # a quick run starts from scratch (the notebooks resume an earlier run otherwise)
            shutil.rmtree(run_dir / quick_paths(path.name)['work_dir'], ignore_errors=True)
        else:
            cwd = path.parent  # the notebook's own relative paths ('..' = the repository)
        print(f'{path.name}: executing ({mode}) in {cwd} ...', flush=True)
        start = time.perf_counter()
        try:
            nb = execute_notebook(path, params, cwd, kernel_dirs)
        except Exception as error:  # CellExecutionError, timeouts, kernel deaths
            print(f'error: {path.name} failed to execute:\n{error}', file=sys.stderr)
            raise SystemExit(1)
        print(f'{path.name}: executed in {time.perf_counter() - start:.0f} s', flush=True)
        text = nbformat.writes(nb)
        for old in cache.glob(f'{path.stem}.{mode}.*.ipynb'):
            old.unlink()
        tmp = cached.with_suffix('.tmp')
        tmp.write_text(text)
        tmp.replace(cached)
        result[path.name] = text
    return result


def sync_file(data: bytes, target: Path):
    """Write ``data`` to ``target`` unless it already holds exactly that."""
    if target.is_file() and target.read_bytes() == data:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def stage(args, notebooks: dict, staging: Path) -> Path:
    """Mirror the docs sources, README.md and the executed notebooks into ``staging`` (laid
    out as the repository: ``docs/``, ``README.md``); returns the Sphinx source folder."""
    src = staging / 'docs'
    wanted = {}
    for path in args.docs_dir.rglob('*'):
        rel = path.relative_to(args.docs_dir)
        if rel.parts[0] == '_build' or '__pycache__' in rel.parts or not path.is_file():
            continue
        wanted[src / rel] = path.read_bytes()
    for name, text in notebooks.items():
        wanted[src / 'tutorials' / name] = text.encode()
    for target, data in wanted.items():
        sync_file(data, target)
    for path in list(src.rglob('*')):  # files removed from the sources
        if path.is_file() and path not in wanted:
            path.unlink()
    sync_file((REPO / 'README.md').read_bytes(), staging / 'README.md')
    return src


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out, args.docs_dir = args.out.resolve(), args.docs_dir.resolve()
    args.tutorials_dir = args.tutorials_dir.resolve()
    cache = (args.cache_dir or args.out / 'notebook_cache').resolve()
    staging = args.out / 'staging'
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='svip_mm_docs_kernel_') as kernels:
        notebooks = executed_notebooks(args, cache, make_kernelspec(Path(kernels)),
                                       staging / 'run')
    executed = time.perf_counter()
    src = stage(args, notebooks, staging)
    html = args.out / 'html'
    # -E: a fresh environment every time, so that the warnings of unchanged pages are
    # raised again (an incremental build would pass silently after a failed one)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-E', '-W', '--keep-going', '-q',
           '-d', str(args.out / 'doctrees'), str(src), str(html)]
    print('sphinx:', ' '.join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=str(REPO))
    if proc.returncode != 0:
        print(f'error: sphinx-build failed (exit {proc.returncode}); every warning is an error',
              file=sys.stderr)
        return 1
    print(f'built {html / "index.html"} (notebooks {executed - start:.0f} s, '
          f'sphinx {time.perf_counter() - executed:.0f} s)')
    return 0


if __name__ == '__main__':
    from svip_mm.utils.tool_errors import run_tool
    run_tool(main)
