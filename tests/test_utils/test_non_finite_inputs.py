"""Non-finite numbers and duplicate class names are refused where each file is read (issue 21).

A NaN, an inf, or a value beyond float32's range (1e39 passes a float64 check and becomes inf
in the float32 model) in a dataset, a word-vector file, a class table or a checkpoint's class
table is one error naming the file, the field, the position (class / attribute, with its name)
and the value. Non-finite scores are never reported as results (GZSLMetric, the inferencer).
Every file here is written in its real format (.mat via scipy.io, .npy, .csv, checkpoints).
"""
import copy
import re

import numpy as np
import pytest
import torch
from mmengine.runner import Runner

import svip_mm  # noqa: F401  (registers the components)
from svip_mm.apis import ClassTable, SVIPInferencer, load_class_table
from svip_mm.datasets import ZSLCUB, Xlsa17FormatError, check_xlsa17
from svip_mm.embeddings import ArrayWordVectors, embed_attributes
from svip_mm.engine import prepare_data
from svip_mm.engine.class_table_hook import ZSLClassTableHook
from svip_mm.evaluation import GZSLMetric, calibrated_predict, evaluate_zsl, zsl_top1
from svip_mm.models.heads import SemanticAttributeHead
from svip_mm.models.necks import SemanticContextToken
from svip_mm.utils.finite import NonFiniteError, check_finite
from svip_mm.utils.unique_names import check_unique_names
from tiny_config import tiny_cfg
from tool_process import run_tool
from xlsa17_fixture import update_mat, write_xlsa17_fixture

F32_MAX = float(torch.finfo(torch.float32).max)


# ---------------------------------------------------------------- the shared helpers
def test_check_finite_names_position_value_and_expectation():
    a = np.ones((2, 3))
    check_finite(a, 'x')  # finite: nothing to say
    a[1, 2] = 1e39  # finite in float64, inf in float32
    with pytest.raises(NonFiniteError) as err:
        check_finite(a, "field 'att' of f.mat", axes=(('attribute', None),
                                                      ('class', ['a', 'b', 'c'])))
    msg = str(err.value)
    assert "field 'att' of f.mat" in msg and '1e+39' in msg
    assert "attribute 1, class 2 ('c')" in msg
    assert 'float32' in msg and f'{F32_MAX:.4g}' in msg
    # float64 as the model's dtype accepts 1e39 but never a NaN
    check_finite(a, 'x', dtype=torch.float64)
    a[0, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r'2 values.*nan at row 0, column 0'):
        check_finite(a, 'x')
    with pytest.raises(NonFiniteError, match=r'-inf at index 1'):
        check_finite(torch.tensor([0.0, -float('inf')], dtype=torch.bfloat16), 'x')
    assert issubclass(NonFiniteError, ValueError)


def test_check_unique_names():
    check_unique_names(['a', 'b'], 'f.csv')
    with pytest.raises(ValueError, match=r"f\.csv: class name 'b' appears 3 times, at "
                                         r'positions \[1, 2, 4\]'):
        check_unique_names(['a', 'b', 'b', 'c', 'b'], 'f.csv')


# ---------------------------------------------------------------- xlsa17 datasets
@pytest.fixture
def cub(tmp_path):
    return write_xlsa17_fixture(str(tmp_path / 'cub'), layout='cub')


def _bad_att(fx, field, value):
    """Write ``value`` into ``field`` (K x C) at attribute 3 of the first unseen class."""
    arr = (fx.att if field == 'att' else fx.original_att).copy()
    cls = fx.unseen_classes[0]
    arr[3, cls] = value
    update_mat(fx.att_splits_file, **{field: arr})
    return cls


@pytest.mark.parametrize('field,value,shown', [('att', np.nan, 'nan'),
                                               ('original_att', 1e39, '1e+39'),
                                               ('att', -np.inf, '-inf')])
def test_dataset_refuses_non_finite_class_attributes(cub, field, value, shown):
    cls = _bad_att(cub, field, value)
    with pytest.raises(Xlsa17FormatError) as err:
        ZSLCUB(**cub.dataset_kwargs(serialize_data=False))
    msg = str(err.value)
    assert cub.att_splits_file in msg and f"'{field}'" in msg
    assert f"class {cls} ('{cub.class_names[cls]}')" in msg and 'attribute 3' in msg
    assert shown in msg and 'finite' in msg
    report = check_xlsa17(cub.root, attribute_names_file=cub.names_file,
                          expected_counts=cub.expected_counts)
    assert not report.ok and any(f"'{field}'" in p and shown in p for p in report.problems)


def test_check_dataset_tool_names_the_nan_class(cub, tmp_path):
    """End to end: NaN in att for an unseen class -> check_dataset.py exits 1 naming
    att_splits.mat, 'att' and the class; building the dataset gives the same error."""
    cls = _bad_att(cub, 'att', np.nan)
    proc = run_tool('check_dataset.py', 'ZSLCUB', '--data-root', cub.root,
                    '--no-expected-counts', cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    lines = [line for line in out.splitlines() if 'nan at' in line]
    assert len(lines) == 1, out
    assert 'att_splits.mat' in lines[0] and "'att'" in lines[0]
    assert cub.class_names[cls] in lines[0]
    with pytest.raises(Xlsa17FormatError, match=re.escape(cub.class_names[cls])):
        ZSLCUB(**cub.dataset_kwargs(serialize_data=False, split='test_unseen'))


def test_dataset_refuses_duplicate_class_names(cub, tmp_path):
    names = list(cub.class_names)
    names[4] = names[1]
    cell = np.empty((len(names), 1), dtype=object)
    cell[:, 0] = names
    update_mat(cub.att_splits_file, allclasses_names=cell)
    with pytest.raises(Xlsa17FormatError) as err:
        ZSLCUB(**cub.dataset_kwargs(serialize_data=False))
    msg = str(err.value)
    assert cub.att_splits_file in msg and 'allclasses_names' in msg
    assert f"{names[1]!r} appears 2 times, at positions [1, 4]" in msg
    proc = run_tool('check_dataset.py', 'ZSLCUB', '--data-root', cub.root, cwd=tmp_path)
    assert proc.returncode == 1 and f'{names[1]!r} appears 2 times' in proc.stdout


# ---------------------------------------------------------------- word vectors
def test_word_vector_file_with_nan_is_refused_naming_the_file(tmp_path):
    path = tmp_path / 'words.npy'
    vectors = np.ones((4, 6), np.float32)
    vectors[2, 5] = np.nan
    np.save(path, vectors)
    with pytest.raises(ValueError) as err:
        SemanticContextToken(in_channels=8, num_attributes=4, word_vectors=str(path))
    msg = str(err.value)
    assert str(path) in msg and 'attribute 2, dimension 5' in msg and 'nan' in msg
    big = np.ones((4, 6))
    big[0, 0] = 1e39  # a float64 file whose value overflows float32
    np.save(path, big)
    with pytest.raises(ValueError, match=r'1e\+39 at attribute 0, dimension 0'):
        SemanticContextToken(in_channels=8, num_attributes=4, word_vectors=str(path))


def test_training_with_a_nan_word_vector_names_the_file_not_a_loss(tmp_path):
    """End to end: the tiny training config whose word-vector .npy holds a NaN stops before
    training with the file named (it used to train and fail on a nan loss_ce_tgt)."""
    torch.set_num_threads(1)
    cfg = tiny_cfg(tmp_path / 'data', tmp_path / 'work', images_per_class=3)
    prepare_data(cfg)
    words = cfg.model.neck.word_vectors
    vectors = np.load(words)
    vectors[5, 7] = np.nan
    np.save(words, vectors)
    with pytest.raises(ValueError) as err:
        Runner.from_cfg(copy.deepcopy(cfg)).train()
    msg = str(err.value)
    assert words in msg and 'nan at attribute 5, dimension 7' in msg and 'loss' not in msg


def test_a_checkpoint_with_nan_word_vectors_is_refused_on_load():
    """Resuming or testing loads ``neck.word_vectors`` from the checkpoint, not the file."""
    neck = SemanticContextToken(in_channels=8, num_attributes=4,
                                word_vectors=np.ones((4, 6), np.float32))
    state = neck.state_dict()
    state['word_vectors'][1, 3] = float('inf')
    with pytest.raises(ValueError, match=r"'word_vectors'.*inf at attribute 1, dimension 3"):
        neck.load_state_dict(state)


def test_embedding_a_nan_word_vector_names_the_word():
    backend = ArrayWordVectors(['red', 'wing', 'blue'],
                               np.array([[1, 0], [np.nan, 1], [0, 1]], np.float32),
                               name='tiny', source='tiny.txt')
    with pytest.raises(ValueError) as err:
        embed_attributes(['red wing', 'blue'], backend)
    msg = str(err.value)
    assert "'wing'" in msg and 'tiny.txt' in msg and "'red wing'" in msg and 'nan' in msg
    big = ArrayWordVectors(['a', 'b'], np.array([[3e38, 0], [3e38, 0]], np.float32), 'big')
    with pytest.raises(ValueError, match=r"attribute 0 \('a b'\)"):
        embed_attributes(['a b'], big)  # the sum overflows float32


# ---------------------------------------------------------------- class tables
def test_class_table_csv_with_a_value_beyond_float32(tmp_path):
    path = tmp_path / 'table.csv'
    path.write_text('name,a0,a1,a2\nzebra,1,0,1\nokapi,0,1e39,1\n')
    with pytest.raises(ValueError) as err:
        load_class_table(str(path))
    msg = str(err.value)
    assert str(path) in msg and 'line 3' in msg and "'a1'" in msg and "'okapi'" in msg
    assert '1e+39' in msg and 'float32' in msg
    with pytest.raises(ValueError, match=r"1e\+39 at class 1 \('okapi'\), attribute 1"):
        ClassTable.build(['zebra', 'okapi'], [[1, 0, 1], [0, 1e39, 1]], 3)


def test_class_table_duplicates_are_refused(tmp_path):
    path = tmp_path / 'table.csv'
    path.write_text('zebra,1,0\nokapi,0,1\nzebra,1,1\n')
    with pytest.raises(ValueError, match=r"class name 'zebra' appears 2 times, at lines "
                                         r'\[1, 3\]'):
        load_class_table(str(path))
    with pytest.raises(ValueError, match=r"'zebra' appears 2 times, at positions \[0, 2\]"):
        ClassTable.build(['zebra', 'okapi', 'zebra'], np.ones((3, 2)), 2)
    table = ClassTable.build(['zebra', 'okapi'], np.ones((2, 2)), 2, source='a')
    with pytest.raises(ValueError, match=r"'okapi' appears 2 times"):
        table.extended(ClassTable.build(['okapi'], np.ones((1, 2)), 2, source='b'))
    npy = tmp_path / 'table.npy'
    np.save(npy, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"'x' appears 2 times"):
        load_class_table(str(npy), class_names=['x', 'x'])


def test_head_refuses_a_non_finite_class_table():
    head = SemanticAttributeHead(num_attributes=3, in_channels=8, num_classes=2, unit_size=1)
    att = np.ones((2, 3))
    att[1, 2] = np.inf
    with pytest.raises(ValueError, match=r'inf at class 1, attribute 2'):
        head.set_class_attributes(att, [0])
    good = SemanticAttributeHead(num_attributes=3, in_channels=8, num_classes=2, unit_size=1,
                                 class_attributes=np.ones((2, 3)), seen_classes=[0])
    state = good.state_dict()
    state['class_attributes'][0, 1] = float('nan')
    with pytest.raises(ValueError, match=r"'class_attributes'.*nan at class 0, attribute 1"):
        head.load_state_dict(state)


class _Loader:
    def __init__(self, meta):
        self.dataset = type('TinySet', (), {'metainfo': meta})()


def test_class_table_hook_names_the_dataset_class():
    head = SemanticAttributeHead(num_attributes=3, in_channels=8, num_classes=2, unit_size=1)
    model = torch.nn.Module()
    model.head = head
    att = np.ones((2, 3), np.float32)
    att[1, 0] = np.nan
    meta = dict(classes=('zebra', 'okapi'), class_attributes=att, seen_classes=[0])
    runner = type('R', (), {'model': model, 'train_dataloader': _Loader(meta)})()
    with pytest.raises(ValueError, match=r"TinySet metainfo 'class_attributes'.*nan at class 1 "
                                         r"\('okapi'\), attribute 0"):
        ZSLClassTableHook().before_train(runner)


# ---------------------------------------------------------------- evaluation
def _gzsl_samples(scores):
    from mmpretrain.structures import DataSample
    labels, unseen = [0, 1, 2, 3], [False, False, True, True]
    out = []
    for s, y, u in zip(scores, labels, unseen):
        ds = DataSample().set_gt_label(y).set_pred_score(torch.as_tensor(s))
        ds.set_field(torch.tensor(u), 'is_unseen')
        out.append(ds.to_dict())
    return out


def test_gzsl_metric_refuses_nan_scores():
    scores = np.full((4, 4), 0.25, np.float32)
    scores[1] = np.nan
    scores[3, 2] = np.inf
    metric = GZSLMetric()
    metric.dataset_meta = dict(classes=('a', 'b', 'c', 'd'), seen_classes=[0, 1],
                               unseen_classes=[2, 3])
    metric.process(None, _gzsl_samples(scores))
    with pytest.raises(ValueError) as err:
        metric.evaluate(4)
    msg = str(err.value)
    assert "2 of 4 samples have non-finite 'pred_score'" in msg and 'damaged' in msg
    with pytest.raises(ValueError, match='2 of 4 samples have non-finite scores'):
        evaluate_zsl(scores, [0, 1, 2, 3], [False, False, True, True], [0, 1], [2, 3])
    with pytest.raises(ValueError, match='1 of 2 samples have non-finite scores'):
        zsl_top1(scores[2:], [2, 3], [2, 3])
    with pytest.raises(ValueError, match='non-finite scores'):
        calibrated_predict(scores, [0, 1])


# ---------------------------------------------------------------- inference end to end
@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A tiny SVIP trained for one epoch on the synthetic set: config, checkpoint, test image."""
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp('nonfinite')
    cfg = tiny_cfg(base / 'data', base / 'work', epochs=1, images_per_class=3)
    cfg.dump(str(base / 'tiny.py'))
    prepare_data(cfg)
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    runner.train()
    image = runner.test_dataloader.dataset.get_data_info(0)['img_path']
    return dict(base=base, config=base / 'tiny.py', ckpt=base / 'work/epoch_1.pth',
                image=image, meta=runner.test_dataloader.dataset.metainfo)


def test_predict_tool_refuses_a_class_table_beyond_float32(checkpoint):
    base, k = checkpoint['base'], len(checkpoint['meta']['attribute_names'])
    table = base / 'big.csv'
    values = ['0.5'] * k
    values[1] = '1e39'
    table.write_text('new_class,' + ','.join(values) + '\nother,' + ','.join(['1'] * k) + '\n')
    proc = run_tool('predict.py', checkpoint['config'], checkpoint['ckpt'], checkpoint['image'],
                    '--classes-table', table, cwd=base)
    assert proc.returncode != 0, proc.stdout
    assert 'nan' not in proc.stdout.lower()
    assert str(table) in proc.stderr and '1e+39' in proc.stderr and 'line 1' in proc.stderr


def test_inferencer_refuses_non_finite_scores(checkpoint, tmp_path):
    """A checkpoint whose finite weights overflow float32 in the forward pass (3e38): the
    inferencer says so instead of ranking nan scores."""
    ckpt = torch.load(checkpoint['ckpt'], map_location='cpu', weights_only=False)
    weight = ckpt['state_dict']['head.fc.weight']
    ckpt['state_dict']['head.fc.weight'] = torch.full_like(weight, 3e38)
    damaged = tmp_path / 'damaged.pth'
    torch.save(ckpt, damaged)
    inferencer = SVIPInferencer(str(checkpoint['config']), str(damaged))
    with pytest.raises(ValueError) as err:
        inferencer(checkpoint['image'])
    msg = str(err.value)
    assert '1 of 1 images got non-finite' in msg and 'damaged' in msg
    assert checkpoint['image'] in msg and str(damaged) in msg
    proc = run_tool('predict.py', checkpoint['config'], damaged, checkpoint['image'],
                    cwd=tmp_path)
    assert proc.returncode != 0 and 'non-finite' in proc.stderr
    assert 'nan' not in proc.stdout.lower()


@pytest.mark.parametrize('where', ['buffer', 'meta'])
def test_inferencer_refuses_a_checkpoint_with_a_nan_class_table(checkpoint, tmp_path, where):
    ckpt = torch.load(checkpoint['ckpt'], map_location='cpu', weights_only=False)
    name = checkpoint['meta']['classes'][3]
    if where == 'buffer':
        ckpt['state_dict']['head.class_attributes'][3, 0] = float('nan')
    else:  # the table the inferencer falls back on when the head's buffers were never set
        att = ckpt['meta']['dataset_meta']['class_attributes']
        if isinstance(att, dict):  # an array stored as a tagged tensor (checkpoint_format)
            att = next(v for v in att.values() if isinstance(v, torch.Tensor))
        att[3, 0] = float('nan')  # in place, numpy array or tensor
    damaged = tmp_path / 'damaged.pth'
    torch.save(ckpt, damaged)
    with pytest.raises(ValueError) as err:
        SVIPInferencer(str(checkpoint['config']), str(damaged))
    msg = str(err.value)
    assert str(damaged) in msg
    if where == 'buffer':  # the checkpoint reader may refuse a NaN weight before we look
        assert 'head.class_attributes' in msg
    else:
        assert re.search(rf"dataset_meta\['class_attributes'\].*nan at class 3 "
                         rf"\('{re.escape(name)}'\), attribute 0", msg), msg
