"""docs/adding_a_method.md, followed as written: its toy head and its config are taken from the
page's code blocks, written into a package of the test's own, registered through
``custom_imports``, trained for one epoch with ``tools/train.py``, and then
``tools/test.py``, ``tools/predict.py``, ``tools/visualize.py`` and ``tools/calibrate.py`` run
on it as a user runs them. The page cannot drift from what works."""
import json
import os
import re
import subprocess
import sys

import pytest

from repo import REPO

PAGE = REPO / 'docs' / 'adding_a_method.md'
# the tiny setting of the tests: a 2-layer 32-d ViT, one epoch, no loader workers
TINY = """
model = dict(backbone=dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                     feedforward_channels=128)),
             head=dict(in_channels=32))
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
randomness = dict(seed=0)
"""


def _python_blocks(text: str):
    return re.findall(r'```python\n(.*?)```', text, flags=re.S)


def _run(tool: str, *args, cwd, env):
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / tool), *map(str, args)],
                          cwd=str(cwd), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (tool, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


@pytest.fixture(scope='module')
def toy(tiny_trained, tmp_path_factory):
    """The page's head as the package ``my_zsl`` and its config, on the tiny shared data."""
    base, _, _ = tiny_trained
    root = tmp_path_factory.mktemp('adding_a_method')
    head_code, config_code = _python_blocks(PAGE.read_text())[:2]
    assert 'class ToyPatchHead(ZSLHeadMixin, ClsHead)' in head_code
    (root / 'my_zsl').mkdir()
    (root / 'my_zsl' / '__init__.py').write_text('')
    (root / 'my_zsl' / 'toy_head.py').write_text(head_code)
    # the page's config, its base named by absolute path (the page's file sits in configs/)
    config = config_code.replace("'../baseline_vit_synthetic.py'",
                                 repr(str(REPO / 'configs' / 'baseline_vit_synthetic.py')))
    data = str(base / 'data')
    loaders = ''.join(
        f"{loader} = dict(batch_size=32, num_workers=0, persistent_workers=False, "
        f"dataset=dict(data_root={data!r}, generator_overrides=dict(images_per_class=5)))\n"
        for loader in ('train_dataloader', 'test_dataloader'))
    (root / 'toy.py').write_text(config + TINY + loaders)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(PYTHONPATH=str(root), OMP_NUM_THREADS='1')
    _run('train.py', root / 'toy.py', '--work-dir', root / 'work', cwd=root, env=env)
    image = next((base / 'data' / 'images').rglob('*.png'))
    return root, env, root / 'work' / 'epoch_1.pth', image


def test_the_page_has_the_head_and_config_it_describes():
    head_code, config_code = _python_blocks(PAGE.read_text())[:2]
    for member in ('def score_classes', 'def attribute_maps', 'def loss', 'def predict',
                   '@MODELS.register_module()'):
        assert member in head_code, member
    assert "type='ToyPatchHead'" in config_code and "'my_zsl.toy_head'" in config_code


def test_test_tool_gives_the_honest_and_the_test_tuned_blocks(toy):
    root, env, ckpt, _ = toy
    proc = _run('test.py', root / 'toy.py', ckpt, '--work-dir', root / 'test', '--out',
                root / 'metrics.json', cwd=root, env=env)
    metrics = json.loads((root / 'metrics.json').read_text())['metrics']
    assert {'zsl/top1', 'gzsl/H', 'oracle/H', 'official/H'} <= set(metrics)
    assert 'honest' in proc.stdout and 'UPPER BOUND' in proc.stdout


def test_predict_and_visualize_run_on_the_new_head(toy):
    root, env, ckpt, image = toy
    _run('predict.py', root / 'toy.py', ckpt, image, '--out', root / 'pred.json', cwd=root,
         env=env)
    result = json.loads((root / 'pred.json').read_text())[0]
    assert len(result['topk']) == 5 and {'class_name', 'score'} <= set(result['topk'][0])
    assert result['attributes']  # the head's top attributes
    out = root / 'toy.png'
    proc = _run('visualize.py', root / 'toy.py', ckpt, image, '--out', out, cwd=root, env=env)
    assert out.is_file() and out.stat().st_size > 1000, proc.stdout


def test_calibration_chooses_gamma_without_the_test_set(toy):
    root, env, _, _ = toy
    cal = root / 'cal'
    _run('calibrate.py', 'prepare', root / 'toy.py', '--work-dir', cal, cwd=root, env=env)
    _run('train.py', cal / 'calibration_train.py', '--work-dir', cal, '--no-test', cwd=root,
         env=env)
    _run('calibrate.py', 'gamma', cal / 'calibration_train.py', cal / 'epoch_1.pth', '--out',
         cal / 'gamma.json', '--work-dir', cal / 'gamma', cwd=root, env=env)
    result = json.loads((cal / 'gamma.json').read_text())
    assert result['cfg_option'].startswith('test_evaluator.0.gamma=')
    assert result['num_pseudo_unseen'] > 0 and result['num_pseudo_seen'] > 0
