"""The tools on every ImageClassifier ZSL model (the "ViT + attribute head" baseline, APN,
TransZero), each shrunk to a tiny ViT and trained for one epoch on a few synthetic images:
tools/predict.py and tools/visualize.py as a user runs them (their own process, another
directory), ZSLInferencer against the Runner's own test step, tools/test.py and
tools/calibrate.py on APN. (tools/benchmark.py on TransZero: test_benchmark.py.)"""
import copy
import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.image import imread
from mmengine.config import Config
from mmengine.runner import Runner

import svip_mm  # noqa: F401
from svip_mm.apis import SVIPInferencer, ZSLInferencer
from svip_mm.engine import prepare_data
from svip_mm.visualization import attention_panel_labels
from tiny_zsl_configs import CONFIGS, HEADS, tiny_zsl_cfg
from repo import load_tool
from tool_process import run_tool

NAMES = list(CONFIGS)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Each model trained for one epoch on one shared data folder, with the Runner's own test
    step on 3 test-seen and 3 test-unseen images: name -> dict(base, config, ckpt, paths,
    samples, meta)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp('every_model')
    models = {}
    for name in NAMES:
        base = root / name
        base.mkdir()
        cfg = tiny_zsl_cfg(name, root / 'data', base / 'work')
        cfg.dump(str(base / 'tiny.py'))
        prepare_data(cfg)
        runner = Runner.from_cfg(copy.deepcopy(cfg))
        runner.train()
        runner.model.eval()
        dataset = runner.test_dataloader.dataset
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        chosen = ([i for i, d in enumerate(infos) if not d['is_unseen']][:3] +
                  [i for i, d in enumerate(infos) if d['is_unseen']][:3])
        batch = runner.test_dataloader.collate_fn([dataset[i] for i in chosen])
        with torch.no_grad():
            samples = runner.model.test_step(batch)
        models[name] = dict(base=base, config=base / 'tiny.py', ckpt=base / 'work/epoch_1.pth',
                            paths=[s.img_path for s in samples], samples=samples,
                            meta=dataset.metainfo)
    return models


@pytest.mark.parametrize('name', NAMES)
def test_inferencer_agrees_with_the_runners_test_step(trained, name):
    """The checkpoint's classes: the model's own pred_score (TransZero: with its calibration
    bias) and pred_attributes; no SVIP extras."""
    run = trained[name]
    inf = ZSLInferencer(str(run['config']), str(run['ckpt']))
    assert inf.kind == 'image_classifier' and not inf.has_selection
    assert type(inf.model.head).__name__ == HEADS[name]
    num_classes = len(run['meta']['classes'])
    results = inf(run['paths'], topk=num_classes, top_attributes=3, batch_size=4)
    for r, s in zip(results, run['samples']):
        np.testing.assert_allclose(r['class_scores'], s.pred_score.numpy(), atol=1e-5)
        np.testing.assert_allclose(r['attribute_scores'], s.pred_attributes.numpy(), atol=1e-5)
        assert r['pred_label'] == int(s.pred_label) == r['topk'][0]['label']
        assert not {'keep_mask', 'selector_prob', 'unit_grid'} & set(r)
        assert r['input_shape'] == (64, 64) and len(r['attributes']) == 3
    # a new table is scored by the head: softmax of score_classes on the head's rows
    matrix = np.asarray(run['meta']['class_attributes'])[:5]
    inf.set_classes([f'n{i}' for i in range(5)], matrix)
    head = inf.model.head
    attributes = torch.as_tensor(results[0]['attribute_scores'])[None]
    expected = F.softmax(head.score_classes(attributes, head.class_table_rows(matrix)), dim=1)
    np.testing.assert_allclose(inf(run['paths'][0])[0]['class_scores'], expected[0].numpy(),
                               atol=1e-5)


def test_svip_inferencer_refuses_another_model_naming_the_general_one(trained):
    run = trained['apn']
    with pytest.raises(TypeError, match='SVIPInferencer needs an SVIPClassifier; the config '
                       'builds ImageClassifier with APNHead: use ZSLInferencer'):
        SVIPInferencer(str(run['config']), str(run['ckpt']))


@pytest.mark.parametrize('name', NAMES)
def test_predict_tool(trained, name, tmp_path):
    """tools/predict.py: the checkpoint's 40 classes and a new one from a CSV (--extend); the
    new class's attribute vector is the image's own prediction, so it ranks first (Cauchy-
    Schwarz: every head scores a . row / |row| here)."""
    run = trained[name]
    inf = ZSLInferencer(str(run['config']), str(run['ckpt']))
    attributes = inf(run['paths'][0])[0]['attribute_scores']
    table = tmp_path / 'new.csv'
    table.write_text('brand_new,' + ','.join(f'{v:.6f}' for v in attributes) + '\n')
    out = tmp_path / 'pred.json'
    proc = run_tool('predict.py', run['config'], run['ckpt'], *run['paths'][:2], '--topk', '3',
                    '--top-attributes', '2', '--classes-table', table, '--extend', '--out', out,
                    cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (f'ImageClassifier with {HEADS[name]}: 41 classes (11 unseen) from checkpoint + '
            f'{table}, 12 attributes') in proc.stdout
    assert 'no keep mask: the model selects no patches' in proc.stdout
    assert 'keep mask (' not in proc.stdout and proc.stdout.count('top-3 classes') == 2
    results = json.loads(out.read_text())
    assert [len(r['topk']) for r in results] == [3, 3]
    assert results[0]['pred_class'] == 'brand_new' and results[0]['pred_unseen']
    assert len(results[0]['class_scores']) == 41 and len(results[0]['attribute_scores']) == 12
    assert [a['name'] for a in results[0]['attributes']] == [
        run['meta']['attribute_names'][i] for i in np.argsort(-attributes, kind='stable')[:2]]
    assert 'keep_mask' not in results[0]


@pytest.mark.parametrize('name', NAMES)
def test_visualize_tool(trained, name, tmp_path):
    """tools/visualize.py draws the attention (read from mmpretrain's ViT) and the attribute
    localisation (the head's attribute_maps); the selection is left out with one line."""
    run = trained[name]
    out = tmp_path / 'fig.png'
    proc = run_tool('visualize.py', run['config'], run['ckpt'], run['paths'][0], '--out', out,
                    '--dpi', '30', '--top-attributes', '3', cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-2] == (f'patch selection left out: ImageClassifier with {HEADS[name]} selects '
                         'no patches (only SVIPClassifier has a patch selector)')
    assert lines[-1] == f'wrote {out}: attention, attribute_localisation'
    assert imread(str(out)).ndim == 3
    # the same figure in-process: its panels
    inf = ZSLInferencer(str(run['config']), str(run['ckpt']))
    fig, analysis = inf.visualize(run['paths'][0], top_attributes=3, return_analysis=True)
    top3 = [f'attribute_{i}' for i in np.argsort(-analysis.attribute_scores, kind='stable')[:3]]
    assert [ax.get_label() for ax in fig.axes] == attention_panel_labels(2) + top3
    assert analysis.unit_grid == (8, 8) and analysis.unit_attribute_scores.shape == (64, 12)
    assert "selector's training target" not in ' '.join(ax.get_title() for ax in fig.axes)
    assert 'selects no patches' in fig.get_supxlabel()


def test_test_and_calibrate_tools_on_apn(trained, tmp_path):
    """tools/test.py (with --show-dir) and tools/calibrate.py (prepare, train, gamma) on an
    ImageClassifier."""
    run = trained['apn']
    proc = run_tool('test.py', run['config'], run['ckpt'], '--work-dir', tmp_path / 'test',
                    '--out', tmp_path / 'metrics.json', '--show-dir', tmp_path / 'figures',
                    '--show-max', '1', cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the summary figures of SVIPVisualizationHook, for this model too
    assert len(list((tmp_path / 'figures').glob('*.png'))) == 1
    metrics = json.loads((tmp_path / 'metrics.json').read_text())['metrics']
    assert {'gzsl/H', 'gzsl/U', 'gzsl/S'} <= set(metrics), sorted(metrics)
    assert re.search(r'^\s+honest\s+[+-]\d+\.\d+', proc.stdout, re.M), proc.stdout[-2000:]

    calibrate = load_tool('calibrate')  # in this process: one tool start less
    work = tmp_path / 'calib'
    calibrate.main(['prepare', str(run['config']), '--work-dir', str(work), '--holdout', '0.34'])
    written = Config.fromfile(str(work / 'calibration_train.py'))
    assert written.model.type == 'ImageClassifier' and written.model.head.type == 'APNHead'
    Runner.from_cfg(written).train()
    res = calibrate.main(['gamma', str(work / 'calibration_train.py'), str(work / 'epoch_1.pth'),
                          '--out', str(work / 'gamma.json'), '--gammas=-0.5:0.5:0.1'])
    assert res['num_pseudo_unseen'] > 0 and res['num_pseudo_seen'] > 0
    saved = json.loads((work / 'gamma.json').read_text())
    assert saved['sweep']['gamma'] == pytest.approx(np.arange(-5, 5) / 10)
    assert saved['cfg_option'] == f"test_evaluator.0.gamma={saved['gamma']:g}"


def test_a_model_that_is_not_zero_shot_is_refused_naming_it(trained, tmp_path):
    """A plain classifier (LinearClsHead: no class table) is one message (SystemExit, which
    run_tool prints without a traceback)."""
    run = trained['baseline']
    cfg = Config.fromfile(str(run['config']))
    cfg.model.head = dict(type='LinearClsHead', num_classes=40, in_channels=32)
    cfg.model.backbone.out_type = 'cls_token'
    cfg.dump(str(tmp_path / 'plain.py'))
    with pytest.raises(SystemExit, match='error: the config builds ImageClassifier with '
                       'LinearClsHead .*expected a zero-shot model'):
        load_tool('predict').main([str(tmp_path / 'plain.py'), str(run['ckpt']),
                                   run['paths'][0]])
