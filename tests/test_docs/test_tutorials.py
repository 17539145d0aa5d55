"""The tutorials (tutorials/*.ipynb) executed end to end, shrunk through their parameters cell.

Each notebook is run with nbclient in a fresh kernel of this interpreter (a temporary
kernelspec whose argv is ``sys.executable``, so no other Python on the machine is used), in a
temporary working directory. As papermill does, a cell with the test's values is inserted after
the cell tagged ``parameters``; a last cell prints a JSON summary of chosen notebook variables,
which the tests read back. The notebooks in git carry no outputs.

What a reader sees is checked too: no output shows a path of this machine, and the MMEngine
Runner's logs do not bury the cells' own output (they go to the work dir's log file).
"""
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from repo import REPO, load_module

TUTORIALS = REPO / 'tutorials'
NOTEBOOKS = ['01_quick_start.ipynb', '02_attention_visualisation.ipynb',
             '03_mixing_components.ipynb', '04_real_datasets.ipynb']
KERNEL = 'svip-mm-tutorial-test'
PROBE_MARK = '__tutorial_probe__'
CELL_TIMEOUT = 300  # seconds per cell; a whole shrunk notebook takes well under a minute
# stream lines a reader scrolls through: before the first figure of tutorial 2 (its model
# training included), in tutorial 1's training and test cells (with the Runner's console logs,
# 345 and 351 lines in the shrunk runs)
MAX_LINES_BEFORE_FIRST_FIGURE = 30
MAX_LINES_TRAIN_AND_TEST = 10

# the shrunk parameters, shared with tools/build_docs.py --quick
small_parameters = load_module(TUTORIALS / 'small_parameters.py',
                               'small_parameters').small_parameters


@pytest.fixture(scope='module')
def kernel_dirs(tmp_path_factory) -> List[str]:
    """A kernelspec running this very interpreter."""
    root = tmp_path_factory.mktemp('kernels')
    spec = root / KERNEL
    spec.mkdir()
    (spec / 'kernel.json').write_text(json.dumps(dict(
        argv=[sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        display_name='svip_mm tutorial test', language='python')))
    return [str(root)]


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory) -> str:
    """One folder for the shrunk synthetic dataset: the first notebook to run generates it,
    the others find it (the generator writes nothing when the data is there)."""
    return str(tmp_path_factory.mktemp('synthetic') / 'synthetic_zsl')


def execute(name: str, params: Dict, workdir: Path, kernel_dirs: List[str],
            probe: Sequence[str] = ()):
    """Run tutorial ``name`` with ``params`` injected after its parameters cell.

    Returns ``(notebook, probe values, seconds)``; the probe values hold the notebook's
    variables named in ``probe`` (JSON-converted) and the kernel's ``sys.executable``.
    """
    nb = nbformat.read(TUTORIALS / name, as_version=4)
    index = [i for i, c in enumerate(nb.cells) if 'parameters' in c.metadata.get('tags', [])]
    assert len(index) == 1, f'{name}: expected one cell tagged "parameters"'
    lines = [f'{key} = {value!r}' for key, value in params.items()]
    injected = nbformat.v4.new_code_cell('\n'.join(lines))
    injected.metadata['tags'] = ['injected-parameters']
    nb.cells.insert(index[0] + 1, injected)
    nb.cells.append(nbformat.v4.new_code_cell(
        'import json as _json, sys as _sys\n'
        '_convert = lambda o: o.tolist() if hasattr(o, "tolist") else str(o)\n'
        f'print({PROBE_MARK!r} + _json.dumps(dict(executable=_sys.executable, '
        f'**{{_k: globals()[_k] for _k in {list(probe)!r}}}), default=_convert))'))
    for i, cell in enumerate(nb.cells):
        cell['id'] = f'test-{i:02d}'
    workdir.mkdir(parents=True, exist_ok=True)
    km = KernelManager(kernel_name=KERNEL,
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=kernel_dirs))
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT,
                            resources={'metadata': {'path': str(workdir)}})
    start = time.perf_counter()
    try:
        client.execute()
    finally:  # nbclient leaves a kernel it did not start running
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    seconds = time.perf_counter() - start
    text = ''.join(o.get('text', '') for o in nb.cells[-1].outputs if o.output_type == 'stream')
    assert PROBE_MARK in text, f'{name}: the probe cell printed {text!r}'
    values = json.loads(text.split(PROBE_MARK, 1)[1])
    assert values['executable'] == sys.executable  # the kernel ran this interpreter
    print(f'{name}: executed in {seconds:.1f} s')
    return nb, values, seconds


def tagged(nb, tag: str):
    cells = [c for c in nb.cells if tag in c.metadata.get('tags', [])]
    assert len(cells) == 1, f'expected one cell tagged {tag!r}, found {len(cells)}'
    return cells[0]


def images(cell) -> int:
    """How many PNG images a cell displayed."""
    return sum('image/png' in o.get('data', {}) for o in cell.outputs)


def stream_text(cell) -> str:
    return ''.join(o.get('text', '') for o in cell.outputs if o.output_type == 'stream')


@pytest.fixture(scope='module')
def machine_paths(tmp_path_factory) -> Dict[str, str]:
    """Paths of this machine that no output of a tutorial may show (they mean nothing to a
    reader of the docs site): the tests' temporary folders (work dirs, data, kernelspecs), the
    repository, the interpreter's prefix (site-packages in warnings) and the home folder."""
    paths = dict(tmp=str(tmp_path_factory.getbasetemp()), repository=str(REPO),
                 prefix=sys.prefix, base_prefix=sys.base_prefix, home=str(Path.home()))
    return {name: path for name, path in paths.items() if len(path) > 1}


def output_texts(cell):
    """The text of every output of ``cell``: streams, tracebacks and text/* data."""
    for output in cell.get('outputs', []):
        if output.output_type == 'stream':
            yield output.text
        elif output.output_type == 'error':
            yield '\n'.join(output.traceback)
        else:
            yield from (value for key, value in output.get('data', {}).items()
                        if key.startswith('text/'))


def assert_no_machine_paths(nb, machine_paths: Dict[str, str]):
    """No output of the notebook's own cells (the test's probe cell left out) names a path
    of this machine."""
    found = [f'cell {i} shows the {name} path: {line.strip()[:160]!r}'
             for i, cell in enumerate(nb.cells[:-1])
             for text in output_texts(cell) for line in text.splitlines()
             for name, path in machine_paths.items() if path in line]
    assert not found, '\n'.join(found[:10] + [f'({len(found)} in all)'])


def stream_lines(cells) -> int:
    return sum(len(stream_text(c).splitlines()) for c in cells if c.cell_type == 'code')


def stream_lines_before_first_figure(nb) -> int:
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and images(c))
    return stream_lines(nb.cells[:first])


# --------------------------------------------------------------------------- the files in git
@pytest.mark.parametrize('name', NOTEBOOKS)
def test_notebook_is_stored_without_outputs_and_with_parameters(name):
    nb = nbformat.read(TUTORIALS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == 'code']
    with_output = [i for i, c in enumerate(code) if c.outputs or c.execution_count is not None]
    assert not with_output, f'{name}: code cells {with_output} carry outputs or counts'
    traces = [i for i, c in enumerate(nb.cells) if set(c.metadata) - {'tags'}]
    assert not traces, f'{name}: cells {traces} carry metadata from a run (only tags belong)'
    assert 'parameters' in code[0].metadata.get('tags', []), \
        f'{name}: the first code cell must be tagged "parameters"'
    assert nb.metadata.kernelspec.name == 'python3'
    assert nb.cells[0].cell_type == 'markdown' and nb.cells[0].source.startswith('# ')


# --------------------------------------------------------------------------- 1. quick start
def test_quick_start(tmp_path, kernel_dirs, synthetic_root, machine_paths):
    work = tmp_path / 'work'
    nb, out, _ = execute('01_quick_start.ipynb', small_parameters(
        '01_quick_start.ipynb', repo_root=str(REPO), data_root=synthetic_root,
        work_dir=str(work)), tmp_path, kernel_dirs,
        probe=['metrics', 'recomputed', 'sweep', 'oracle', 'checkpoint', 'labels'])
    table = stream_text(tagged(nb, 'metrics-table'))
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.strip()}
    assert set(rows) == {'block', 'honest', 'oracle', 'official'}
    metrics = out['metrics']
    assert {'zsl/top1', 'gzsl/U', 'gzsl/S', 'gzsl/H', 'oracle/gamma', 'official/H',
            'selection/selector_auroc'} <= set(metrics)
    # the table shows the metric's numbers, and the notebook recomputed them from the scores
    assert float(rows['honest'][-1]) == pytest.approx(metrics['gzsl/H'], abs=0.05)
    assert float(rows['oracle'][1]) == pytest.approx(metrics['oracle/gamma'], abs=0.005)
    for key, value in out['recomputed'].items():
        assert value == pytest.approx(metrics[key], abs=1e-6)
    # 30 test-seen + 50 test-unseen images at 5 images per class
    assert len(out['labels']) == 80
    sweep = out['sweep']
    assert len(sweep['gamma']) == 200 and sweep['gamma'][0] == -1.0
    assert max(sweep['H']) == pytest.approx(out['oracle']['H'])
    assert out['oracle']['H'] == pytest.approx(metrics['oracle/H'])
    assert images(tagged(nb, 'calibration-curve')) == 1
    assert Path(out['checkpoint']).is_file() and (work / 'config.py').is_file()
    # what a reader sees: the Runner's logs are in the work dir, not in the notebook
    lines = stream_lines([tagged(nb, 'train'), tagged(nb, 'test')])
    assert lines <= MAX_LINES_TRAIN_AND_TEST, f'{lines} lines of training and test output'
    logs = list(work.glob('*/*.log'))
    assert len(logs) == 1 and 'Hooks will be executed' in logs[0].read_text()
    assert 'zsl/top1' in logs[0].read_text()  # the test run's metrics are logged there too
    assert_no_machine_paths(nb, machine_paths)


# --------------------------------------------------------------------------- 2. attention
def test_attention_visualisation(tmp_path, kernel_dirs, synthetic_root, machine_paths):
    """Trains its own tiny model (no tutorial-1 run to reuse), draws the figures, and measures
    the selection over all test images; those numbers must equal what the Runner's
    PatchSelectionMetric reports for the same checkpoint."""
    work = tmp_path / 'work'
    nb, out, _ = execute('02_attention_visualisation.ipynb', small_parameters(
        '02_attention_visualisation.ipynb', repo_root=str(REPO),
        tutorial1_dir=str(tmp_path / 'no_tutorial_1'), data_root=synthetic_root,
        work_dir=str(work)), tmp_path, kernel_dirs,
        probe=['checkpoint', 'info', 'keep', 'fg', 'selection', 'auroc', 'names', 'infos'])
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(str(work / 'config.py'))
    # the unit grid and kept count of the config the tutorial trained
    arch, neck = cfg.model.backbone.arch, cfg.model.neck
    units = (arch['img_size'] // arch['patch_size'] // neck.unit_size) ** 2
    assert out['info']['is_unseen'] and len(out['keep']) == units
    assert sum(out['keep']) == neck.keep_k < units
    assert all(0.0 <= f <= 1.0 for f in out['fg'])
    assert out['names'] == ['layer 1', 'layer 2', 'rollout', 'selector']
    assert all(0.0 <= a <= 1.0 for a in out['auroc'])
    for tag in ('attention-maps', 'selection', 'attribute-localisation', 'summary',
                'layer-auroc'):
        assert images(tagged(nb, tag)) == 1, tag
    # what a reader sees: the training here logs to the work dir, not before the first figure
    lines = stream_lines_before_first_figure(nb)
    assert lines <= MAX_LINES_BEFORE_FIRST_FIGURE, f'{lines} lines before the first figure'
    assert 'Hooks will be executed' in next(work.glob('*/*.log')).read_text()
    assert_no_machine_paths(nb, machine_paths)

    cfg.load_from = out['checkpoint']
    cfg.work_dir = str(tmp_path / 'runner_test')
    metrics = Runner.from_cfg(cfg).test()
    assert len(out['infos']) == 80  # every test image
    selection = out['selection']
    assert selection['selection/attention_auroc'] == pytest.approx(out['auroc'][2])
    assert selection['selection/selector_auroc'] == pytest.approx(out['auroc'][3])
    for key, value in selection.items():
        assert value == pytest.approx(metrics[key], abs=1e-6), key


# --------------------------------------------------------------------------- 3. components
def test_mixing_components(tmp_path, kernel_dirs, synthetic_root, machine_paths):
    work = tmp_path / 'work'
    nb, out, _ = execute('03_mixing_components.ipynb', small_parameters(
        '03_mixing_components.ipynb', repo_root=str(REPO), data_root=synthetic_root,
        work_dir=str(work)), tmp_path, kernel_dirs,
        probe=['baseline_losses', 'baseline_metrics', 'svip_losses', 'units', 'kept',
               'mismatch_error', 'mm_losses', 'mm_config', 'num_attributes'])
    assert set(out['baseline_losses']) == {'loss_ce', 'train_acc', 'loss_decorrelation'}
    assert {'zsl/top1', 'gzsl/H'} <= set(out['baseline_metrics'])
    assert {'loss_selector', 'loss_ce_src', 'loss_ce_tgt', 'loss_consistency'} <= \
        set(out['svip_losses'])
    assert out['units'] == 64 and len(out['kept']) == 64 and sum(out['kept']) == 32
    assert 'keep_k=65' in out['mismatch_error']
    assert set(out['mm_losses']) == {'loss_ce', 'train_acc', 'loss_decorrelation'}
    for losses in (out['baseline_losses'], out['svip_losses'], out['mm_losses']):
        assert all(value == value and abs(value) < 1e3 for value in losses.values())

    # the written config really inherits mmpretrain's installed base config
    from mmengine.config import Config
    text = Path(out['mm_config']).read_text()
    assert "'mmpretrain::_base_/models/vit-base-p16.py'" in text
    cfg = Config.fromfile(out['mm_config'])
    assert cfg.model.type == 'ImageClassifier' and cfg.model.backbone.type == 'VisionTransformer'
    assert cfg.model.backbone.init_cfg[0].type == 'Kaiming'  # only in mmpretrain's file
    assert cfg.model.head.type == 'SemanticAttributeHead'
    assert cfg.model.head.num_attributes == out['num_attributes']
    for tag in ('baseline', 'svip-other-size', 'mmpretrain-base'):
        assert 'losses:' in stream_text(tagged(nb, tag)), tag
    assert_no_machine_paths(nb, machine_paths)


# --------------------------------------------------------------------------- 4. real datasets
@pytest.mark.parametrize('dataset', ['cub', 'awa2'])
def test_real_datasets(tmp_path, kernel_dirs, dataset, machine_paths):
    """Offline: the stand-in xlsa17 tree, a tiny fastText model, an official-format checkpoint
    of a known model; the converted checkpoint evaluated by tools/test.py must predict like
    that model."""
    import torch
    work = tmp_path / 'work'
    nb, out, _ = execute('04_real_datasets.ipynb', small_parameters(
        '04_real_datasets.ipynb', repo_root=str(REPO), work_dir=str(work), dataset=dataset,
        data_root=str(tmp_path / 'no_download')), tmp_path, kernel_dirs,
        probe=['check_status', 'expected_counts', 'vectors', 'settings', 'converted',
               'official_metrics', 'max_score_difference', 'predictions_file'])
    num_attributes = {'cub': 12, 'awa2': 85}[dataset]
    assert out['check_status'] == 1  # the stand-in's counts are not the benchmark's
    assert 'differs' in stream_text(tagged(nb, 'check-dataset'))
    assert 'OK: no problems found.' in ''.join(
        stream_text(c) for c in nb.cells if c.cell_type == 'code')
    assert out['expected_counts']['num_attributes'] == num_attributes
    assert len(out['vectors']) == num_attributes and len(out['vectors'][0]) == 8
    assert out['settings']['neck']['keep_k'] == 8
    assert out['settings']['neck']['context_layout'] == 'official'
    ckpt = torch.load(Path(tmp_path, out['converted']), map_location='cpu', weights_only=True)
    assert ckpt['state_dict']['neck.word_vectors'].shape == (num_attributes, 8)
    metrics = out['official_metrics']
    assert metrics['num_test_seen'] == 8 and metrics['num_test_unseen'] == 24
    assert {'zsl/top1', 'gzsl/H', 'official/H'} <= set(metrics['metrics'])
    assert out['max_score_difference'] is not None and out['max_score_difference'] < 1e-5
    assert Path(tmp_path, out['predictions_file']).is_file()  # relative to the notebook's folder
    assert_no_machine_paths(nb, machine_paths)
