"""svip_mm.apis.SVIPInferencer, tools/predict.py and tools/visualize.py on a tiny SVIP trained
for one epoch on a small synthetic set: agreement with the Runner's own test step, class
tables replaced at inference time, word vectors from the checkpoint, bad inputs."""
import copy
import time
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import svip_mm  # noqa: F401
from svip_mm.apis import SVIPInferencer, load_class_table
from svip_mm.engine import prepare_data
from tiny_config import tiny_cfg
from repo import REPO, load_tool

# the synthetic default's attribute and class counts, as the default config declares them
_DEFAULT_CFG = Config.fromfile(str(REPO / 'configs/svip_vit_synthetic.py'))
_DEFAULT = _DEFAULT_CFG.model.head
K, C = _DEFAULT.num_attributes, _DEFAULT.num_classes
# its unit grid (patch grid / unit size) and the units the selector keeps
GRID = _DEFAULT_CFG.vit_arch['img_size'] // _DEFAULT_CFG.vit_arch['patch_size'] \
    // _DEFAULT_CFG.model.neck.unit_size
KEEP = _DEFAULT_CFG.model.neck.keep_k


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp('infer')
    cfg = tiny_cfg(base / 'data', base / 'work', epochs=1, images_per_class=3)
    cfg.dump(str(base / 'tiny.py'))
    prepare_data(cfg)
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    runner.train()
    ckpt = base / 'work/epoch_1.pth'
    # the runner's own test step on the first test batch (5 seen + 5 unseen images)
    runner.load_checkpoint(str(ckpt))
    runner.model.eval()
    dataset = runner.test_dataloader.dataset
    seen = [i for i in range(len(dataset)) if not dataset.get_data_info(i)['is_unseen']][:5]
    unseen = [i for i in range(len(dataset)) if dataset.get_data_info(i)['is_unseen']][:5]
    batch = runner.test_dataloader.collate_fn([dataset[i] for i in seen + unseen])
    with torch.no_grad():
        samples = runner.model.test_step(batch)
    inferencer = SVIPInferencer(str(base / 'tiny.py'), str(ckpt))
    return dict(base=base, cfg=cfg, ckpt=ckpt, samples=samples, meta=dataset.metainfo,
                inferencer=inferencer)


def test_agrees_with_the_runners_test_step(trained):
    inf, samples = trained['inferencer'], trained['samples']
    paths = [s.img_path for s in samples]
    results = inf(paths, topk=C, top_attributes=3, batch_size=4)
    assert [r['img_path'] for r in results] == paths
    for r, s in zip(results, samples):
        np.testing.assert_allclose(r['class_scores'], s.pred_score.numpy(), atol=1e-6)
        assert r['pred_label'] == int(s.pred_label) == r['topk'][0]['label']
        np.testing.assert_array_equal(r['keep_mask'], s.keep_mask.numpy())
        np.testing.assert_allclose(r['attribute_scores'], s.pred_attributes.numpy(), atol=1e-6)
        np.testing.assert_allclose(r['selector_prob'], s.selector_prob.numpy(), atol=1e-6)
        assert r['unit_grid'] == (GRID, GRID) and r['keep_mask'].sum() == KEEP


def test_names_unseen_flags_and_order(trained):
    inf, meta = trained['inferencer'], trained['meta']
    assert inf.classes.source == 'checkpoint' and len(inf.classes) == C
    assert inf.classes.names == list(meta['classes'])
    assert inf.attribute_names == list(meta['attribute_names'])
    unseen = set(int(c) for c in meta['unseen_classes'])
    results = inf([s.img_path for s in trained['samples']], topk=7, top_attributes=4)
    for r in results:
        scores = [t['score'] for t in r['topk']]
        assert len(scores) == 7 and scores == sorted(scores, reverse=True)
        assert [t['rank'] for t in r['topk']] == list(range(1, 8))
        for t in r['topk']:
            assert t['unseen'] == (t['label'] in unseen)
            assert t['class_name'] == meta['classes'][t['label']]
            assert t['score'] == pytest.approx(r['class_scores'][t['label']])
        assert r['pred_unseen'] == (r['pred_label'] in unseen)
        att = [a['score'] for a in r['attributes']]
        assert att == sorted(att, reverse=True) and len(att) == 4
        assert att[0] == pytest.approx(r['attribute_scores'].max())
        assert r['attributes'][0]['name'] == meta['attribute_names'][r['attributes'][0]['index']]
        assert r['class_scores'].sum() == pytest.approx(1.0, abs=1e-5)


def test_array_input_equals_path_input(trained):
    inf = trained['inferencer']
    path = trained['samples'][0].img_path
    by_path = inf(path)[0]
    by_array = inf(mmcv.imread(path))[0]  # BGR, as mmcv reads it
    assert by_array['img_path'] is None
    np.testing.assert_allclose(by_array['class_scores'], by_path['class_scores'], atol=1e-6)
    np.testing.assert_array_equal(by_array['keep_mask'], by_path['keep_mask'])


def test_new_class_table(trained):
    inf = trained['inferencer']
    path = trained['samples'][0].img_path
    base = inf(path, topk=3)[0]
    a = base['attribute_scores']
    rng = np.random.default_rng(0)
    try:
        # the checkpoint's own table again: same scores
        meta = trained['meta']
        inf.set_classes(meta['classes'], meta['class_attributes'],
                        unseen=[i in set(meta['unseen_classes']) for i in range(C)])
        np.testing.assert_allclose(inf(path)[0]['class_scores'], base['class_scores'],
                                   atol=1e-5)
        # a truly new class whose attribute vector is the predicted one wins (dot similarity:
        # a . a/|a| is the largest a . r over unit vectors r)
        others = rng.random((2, K))
        inf.set_classes(['other_a', 'zebra-like', 'other_b'], [others[0], a, others[1]])
        r = inf(path, topk=3)[0]
        assert r['pred_class'] == 'zebra-like' and r['pred_label'] == 1 and r['pred_unseen']
        assert len(r['class_scores']) == 3
        # ... also among the checkpoint's classes
        inf.reset_classes()
        inf.set_classes(['zebra-like'], a[None], extend=True)
        r = inf(path, topk=2)[0]
        assert r['pred_class'] == 'zebra-like' and r['pred_label'] == C
        assert r['topk'][1]['class_name'] == base['pred_class']
        assert inf.classes.unseen.sum() == len(meta['unseen_classes']) + 1
    finally:
        inf.reset_classes()
    assert inf(path)[0]['pred_class'] == base['pred_class']


def test_class_table_files(trained, tmp_path):
    inf = trained['inferencer']
    names = inf.attribute_names
    path = trained['samples'][0].img_path
    a = inf(path)[0]['attribute_scores']
    csv_path = tmp_path / 'table.csv'
    rows = [['name', 'unseen'] + names, ['known', '0'] + ['1'] * K,
            ['target', 'yes'] + [f'{v:.6f}' for v in a]]
    csv_path.write_text('\n'.join(','.join(r) for r in rows) + '\n')
    table = load_class_table(str(csv_path), names)
    assert table[0] == ['known', 'target'] and table[1].shape == (2, K)
    assert table[2].tolist() == [False, True]
    try:
        inf.load_classes(str(csv_path))
        r = inf(path, topk=2)[0]
        assert r['pred_class'] == 'target' and r['pred_unseen']
        assert r['topk'][1] == dict(rank=2, label=0, class_name='known',
                                    score=pytest.approx(r['class_scores'][0]), unseen=False)
        npy = tmp_path / 'table.npy'
        np.save(npy, np.stack([np.ones(K), a]))
        inf.load_classes(str(npy), class_names=['x', 'y'])
        assert inf(path)[0]['pred_class'] == 'y' and inf.classes.unseen.all()
        bad = tmp_path / 'bad.csv'
        bad.write_text(','.join(['name'] + names[::-1]) + '\n' + ','.join(['c'] + ['1'] * K))
        with pytest.raises(ValueError, match="attribute column 1 is named"):
            inf.load_classes(str(bad))
        bad.write_text('c,1,2,3\n')
        with pytest.raises(ValueError, match=f'3 attribute values per class; the model has {K}'):
            inf.load_classes(str(bad))
        bad.write_text('c,' + ','.join(['1'] * (K - 1) + ['high']) + '\n')
        with pytest.raises(ValueError, match="line 1: attribute value 'high' is not a number"):
            inf.load_classes(str(bad))
    finally:
        inf.reset_classes()


def test_bad_inputs(trained, tmp_path):
    inf = trained['inferencer']
    path = trained['samples'][0].img_path
    missing = str(tmp_path / 'absent.png')
    with pytest.raises(FileNotFoundError, match='image not found: .*absent.png'):
        inf([path, missing])
    not_image = tmp_path / 'notes.png'
    not_image.write_text('not an image')
    with pytest.raises(ValueError, match="'.*notes.png' could not be read as an image.*; "
                       'expected an image file OpenCV decodes'):
        inf(str(not_image))
    (tmp_path / 'empty.jpg').write_bytes(b'')
    with pytest.raises(ValueError, match="'.*empty.jpg' could not be read as an image"):
        inf([path, str(tmp_path / 'empty.jpg')])
    with pytest.raises(ValueError, match='image array #1 is 0x5 pixels; expected an image of '
                       'at least 1x1'):
        inf([np.zeros((4, 4, 3), np.uint8), np.zeros((0, 5, 3), np.uint8)])
    with pytest.raises(ValueError, match=r'\[H, W, 3\]'):
        inf(np.zeros((64, 64, 4), np.uint8))
    # more than there are: all of them, as predict.py's --help says
    everything = inf(path, topk=C + 1, top_attributes=K + 1)[0]
    assert len(everything['topk']) == C and len(everything['attributes']) == K
    with pytest.raises(ValueError, match='topk=0 and top_attributes=5: expected counts >= 1'):
        inf(path, topk=0)
    with pytest.raises(ValueError, match=rf'shape \(2, {K - 1}\); expected \[num_classes, {K}\]'):
        inf.set_classes(['a', 'b'], np.ones((2, K - 1)))
    with pytest.raises(ValueError, match='3 class names for 2 attribute rows'):
        inf.set_classes(['a', 'b', 'c'], np.ones((2, K)))
    with pytest.raises(ValueError, match="class 'b' .* all-zero"):
        inf.set_classes(['a', 'b'], np.stack([np.ones(K), np.zeros(K)]))
    inf.set_classes(['a', 'b'], np.ones((2, K)))
    try:
        assert [r['class_name'] for r in inf(path, topk=3)[0]['topk']] in (['a', 'b'],
                                                                           ['b', 'a'])
    finally:
        inf.reset_classes()
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        SVIPInferencer(str(trained['base'] / 'tiny.py'), str(tmp_path / 'none.pth'))


def test_word_vectors_and_class_table_from_the_checkpoint(trained, tmp_path):
    cfg_path, ckpt_path = str(trained['base'] / 'tiny.py'), trained['ckpt']
    state = torch.load(ckpt_path, map_location='cpu', weights_only=True)
    absent = dict(model=dict(neck=dict(word_vectors=str(tmp_path / 'absent.npy'))))
    # the checkpoint holds the word vectors: the config's file is not read
    inf = SVIPInferencer(cfg_path, str(ckpt_path), cfg_options=absent)
    torch.testing.assert_close(inf.model.neck.word_vectors,
                               state['state_dict']['neck.word_vectors'])
    # without them in the checkpoint, the file is needed
    lean = dict(state_dict={k: v for k, v in state['state_dict'].items()
                            if k != 'neck.word_vectors'}, meta=state['meta'])
    torch.save(lean, tmp_path / 'lean.pth')
    with pytest.raises(FileNotFoundError, match='holds no neck.word_vectors'):
        SVIPInferencer(cfg_path, str(tmp_path / 'lean.pth'), cfg_options=absent)
    inf = SVIPInferencer(cfg_path, str(tmp_path / 'lean.pth'),
                         word_vectors=state['state_dict']['neck.word_vectors'].numpy())
    path = trained['samples'][0].img_path
    expected = trained['inferencer'](path)[0]['class_scores']
    np.testing.assert_allclose(inf(path)[0]['class_scores'], expected, atol=1e-6)
    # no class table at all (e.g. a converted official checkpoint): set one first
    bare = {k: v for k, v in state['state_dict'].items()}
    bare['head.seen_mask'] = torch.zeros_like(bare['head.seen_mask'])
    torch.save(dict(state_dict=bare), tmp_path / 'bare.pth')
    inf = SVIPInferencer(cfg_path, str(tmp_path / 'bare.pth'))
    assert inf.classes is None and inf.attribute_names[0] == 'attribute_0'
    with pytest.raises(RuntimeError, match='no class table'):
        inf(path)
    inf.set_classes([f'c{i}' for i in range(C)], trained['meta']['class_attributes'])
    np.testing.assert_allclose(inf(path)[0]['class_scores'], expected, atol=1e-5)


def test_predict_and_visualize_tools(trained, tmp_path, capsys):
    base, ckpt = trained['base'], str(trained['ckpt'])
    paths = [s.img_path for s in trained['samples'][:2]]
    predict = load_tool('predict')
    results = predict.main([str(base / 'tiny.py'), ckpt, *paths, '--topk', '3',
                            '--out', str(tmp_path / 'p.json')])
    out = capsys.readouterr().out
    assert f'{C} classes (10 unseen) from checkpoint' in out
    assert results[0]['topk'][0]['class_name'] in out
    assert f'keep mask ({GRID}x{GRID} units, {KEEP} kept' in out
    assert (tmp_path / 'p.json').is_file()
    table = tmp_path / 'new.csv'
    table.write_text('brand_new,' + ','.join(f'{v:.6f}' for v in results[0]['attribute_scores'])
                     + '\n')
    results = predict.main([str(base / 'tiny.py'), ckpt, paths[0], '--topk', '2',
                            '--classes-table', str(table), '--extend'])
    assert results[0]['pred_class'] == 'brand_new'
    assert 'brand_new' in capsys.readouterr().out
    only = predict.main([str(base / 'tiny.py'), ckpt, paths[0], '--topk', '2',
                         '--classes-table', str(table)])  # more than the table's 1: all
    assert [r['class_name'] for r in only[0]['topk']] == ['brand_new']
    with pytest.raises(SystemExit):
        predict.parse_args([str(base / 'tiny.py'), ckpt, str(tmp_path / 'absent.png')])

    visualize = load_tool('visualize')
    assert visualize.synthetic_mask_path(paths[0]) == paths[0].replace('/images/', '/masks/')
    out_png = tmp_path / 'fig.png'
    visualize.main([str(base / 'tiny.py'), ckpt, paths[0], '--out', str(out_png), '--dpi', '40'])
    assert out_png.is_file() and 'ground-truth mask' in capsys.readouterr().out
    fig = trained['inferencer'].visualize(paths[0], gt_mask=visualize.synthetic_mask_path(
        paths[0]))
    labels = [ax.get_label() for ax in fig.axes]
    assert 'ground_truth' in labels and 'aggregated' in labels and len(labels) == 4 + 4 + 4


def _photo(path: Path, h: int, w: int) -> str:
    """A random ``h x w`` BGR image written to ``path``."""
    mmcv.imwrite(np.random.default_rng(h * w).integers(0, 256, (h, w, 3), np.uint8), str(path))
    return str(path)


def test_images_of_any_size_give_the_models_unit_grid(trained, tmp_path):
    """The synthetic config's test pipeline has no resize: short edge to img_size (64), then
    the central square; a large photo is fast and every image gives the model's 8x8 grid."""
    inf = trained['inferencer']
    assert inf.input_size == (64, 64) and 'added because' in inf.pipeline_description
    big = _photo(tmp_path / 'big.png', 700, 1000)
    tiny = _photo(tmp_path / 'tiny.png', 8, 8)
    wide = _photo(tmp_path / 'wide.png', 50, 200)  # 200 wide, 50 high
    start = time.perf_counter()
    results = inf([big, tiny, wide], batch_size=2)
    assert time.perf_counter() - start < 10
    assert [r['ori_shape'] for r in results] == [(700, 1000), (8, 8), (50, 200)]
    for r in results:
        assert r['unit_grid'] == (GRID, GRID) and r['input_shape'] == (64, 64)
        assert r['keep_mask'].shape == (GRID * GRID, ) and r['keep_mask'].sum() == KEEP
    # crop, not squash: the same as the central 64x64 of the image enlarged to 64x256
    img = mmcv.imresize(mmcv.imread(wide), (256, 64), interpolation='bicubic')
    by_hand = inf(np.ascontiguousarray(img[:, 96:160]))[0]
    np.testing.assert_allclose(results[2]['class_scores'], by_hand['class_scores'], atol=1e-6)
    np.testing.assert_array_equal(results[2]['keep_mask'], by_hand['keep_mask'])
    # the figure shows the model input and the mask cropped as the image was
    mask = np.zeros((50, 200), bool)
    mask[:, 100:] = True  # right half: columns 32.. of the 64 px crop
    shown = inf._mask_to_input(mask, (50, 200), 'test')
    assert shown.shape == (64, 64) and (shown[:, :31] == 0).all() and (shown[:, 33:] == 255).all()
    fig = inf.visualize(wide, gt_mask=mask)
    assert 'ground_truth' in [ax.get_label() for ax in fig.axes]


def test_the_configs_resize_steps_are_used(trained, tmp_path):
    """A test pipeline with resize / crop steps (as the CUB one) is used as it is; one that
    does not bring an image to the model's size is one clear error naming the image."""
    cfg_path, ckpt = str(trained['base'] / 'tiny.py'), str(trained['ckpt'])
    wide = _photo(tmp_path / 'wide.png', 50, 200)
    steps = [dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale=80, edge='short'),
             dict(type='CenterCrop', crop_size=64),
             dict(type='PackInputs', algorithm_keys=['is_unseen', 'gt_fg_mask'])]
    inf = SVIPInferencer(cfg_path, ckpt, cfg_options={'test_dataloader.dataset.pipeline': steps})
    assert inf.pipeline_description == 'ResizeEdge -> CenterCrop'
    r = inf(wide)[0]
    img = mmcv.imresize(mmcv.imread(wide), (320, 80))  # the config's bilinear ResizeEdge
    by_hand = trained['inferencer'](np.ascontiguousarray(img[8:72, 128:192]))[0]
    np.testing.assert_allclose(r['class_scores'], by_hand['class_scores'], atol=1e-6)
    assert r['unit_grid'] == (GRID, GRID)
    short_only = [steps[0], dict(type='ResizeEdge', scale=64, edge='short'), steps[-1]]
    inf = SVIPInferencer(cfg_path, ckpt,
                         cfg_options={'test_dataloader.dataset.pipeline': short_only})
    assert inf(_photo(tmp_path / 'square.png', 90, 90))[0]['unit_grid'] == (GRID, GRID)
    with pytest.raises(ValueError, match=r"'.*wide.png' \(50x200 pixels\) is 64x256 after the "
                       r"config's test pipeline \(ResizeEdge\); the model takes 64x64"):
        inf(wide)


def test_tools_on_images_of_any_size(trained, tmp_path, capsys):
    base, ckpt = trained['base'], str(trained['ckpt'])
    big = _photo(tmp_path / 'big.png', 700, 1000)
    not_image = tmp_path / 'broken.jpg'
    not_image.write_bytes(b'\xff\xd8 truncated')
    predict = load_tool('predict')
    predict.main([str(base / 'tiny.py'), ckpt, big, '--topk', '2'])
    out = capsys.readouterr().out
    assert '(700x1000 px, model input 64x64)' in out
    assert f'keep mask ({GRID}x{GRID} units, {KEEP} kept' in out
    grid = out.split('context token)\n')[1].splitlines()
    assert [len(row.strip()) for row in grid] == [GRID] * GRID
    with pytest.raises(SystemExit, match="'.*broken.jpg' could not be read as an image"):
        predict.main([str(base / 'tiny.py'), ckpt, big, str(not_image)])
    visualize = load_tool('visualize')
    out_png = tmp_path / 'big_fig.png'
    visualize.main([str(base / 'tiny.py'), ckpt, big, '--out', str(out_png), '--dpi', '30'])
    assert out_png.is_file()
    with pytest.raises(SystemExit, match="'.*broken.jpg' could not be read as an image"):
        visualize.main([str(base / 'tiny.py'), ckpt, str(not_image), '--out',
                        str(tmp_path / 'x.png')])


def test_predict_help_gives_the_class_table_format(capsys):
    tool = load_tool('predict')
    with pytest.raises(SystemExit):
        tool.parse_args(['--help'])
    text = ' '.join(capsys.readouterr().out.split())
    assert '"name,[unseen,]a_1,...,a_K"' in text and '.npy [C, K]' in text
    assert 'all classes when there are fewer than asked' in text
