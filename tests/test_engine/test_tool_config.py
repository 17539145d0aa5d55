"""--cfg-options of tools/train.py and tools/test.py: a key that would be silently ignored is
refused with the closest existing names; the keys the documentation uses are accepted."""
import re

import pytest

from svip_mm.engine.tool_config import load_tool_config
from repo import REPO
from tool_process import run_tool

CONFIG = str(REPO / 'configs/svip_vit_synthetic.py')


@pytest.mark.parametrize('key, message', [
    ('tarin_cfg.max_epochs', "no 'tarin_cfg', so the value would be ignored; did you mean "
                             'train_cfg'),
    ('model.bakbone.arch', "no 'model.bakbone', so the value would be ignored; did you mean "
                           'backbone'),
    ('test_evaluator.5.gamma', 'test_evaluator is a list of 3; expected an index 0..2'),
    ('load_from.path', 'load_from is None, which has no entries to set'),
])
def test_a_key_nobody_reads_is_refused(key, message):
    with pytest.raises(SystemExit, match=message.replace('.', r'\.')):
        load_tool_config(CONFIG, {key: 1}, 'none', None)


@pytest.mark.parametrize('key, value, message', [
    ('train_cfg.max_epoch', 2, "train_cfg builds EpochBasedTrainLoop, which takes no "
                               "'max_epoch'; did you mean max_epochs"),
    ('model.neck.keepk', 3, "model.neck builds SemanticPatchSelector, which takes no 'keepk'; "
                            'did you mean keep_k?'),
    ('model.head.foo', 1, "model.head builds SemanticAttributeHead, which takes no 'foo'; it "
                          'takes attribute_group_ids, class_attributes'),
    ('optim_wrapper.optimizer.lr', 'abc', "optim_wrapper.optimizer.lr='abc': expected a number "
                                          '(the config has 0.0005)'),
    ('train_cfg.max_epochs', 'x', "train_cfg.max_epochs='x': expected a number (the config has "
                                  '30)'),
])
def test_a_typo_inside_a_section_or_a_wrong_type_is_refused_before_anything_runs(key, value,
                                                                                   message):
    with pytest.raises(SystemExit, match=re.escape(message)):
        load_tool_config(CONFIG, {key: value}, 'none', None)


def test_the_documented_keys_are_accepted():
    options = {'test_evaluator.0.gamma': 0.1, 'randomness.seed': 3, 'work_dir': 'w',
               'optim_wrapper.optimizer.lr': 3e-4,
               'default_hooks.two_phase_schedule.phase1_lr': 5e-4,
               'train_cfg.max_epochs': 2, 'model.backbone.drop_path_rate': 0.2,
               'load_from': 'a.pth'}
    cfg = load_tool_config(CONFIG, options, 'none', None)
    assert cfg.test_evaluator[0].gamma == 0.1
    assert cfg.default_hooks.two_phase_schedule.phase1_lr == 5e-4
    assert cfg.model.backbone.drop_path_rate == 0.2 and cfg.load_from == 'a.pth'


def test_train_tool_stops_before_doing_anything(tmp_path):
    proc = run_tool('train.py', CONFIG, '--work-dir', tmp_path / 'w', '--cfg-options',
                    'tarin_cfg.max_epochs=1', cwd=tmp_path)
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    assert "--cfg-options tarin_cfg.max_epochs: the config has no 'tarin_cfg'" in proc.stderr
    assert not (tmp_path / 'w').exists() and not (tmp_path / 'data').exists()


@pytest.mark.parametrize('value', [-1, 0])
def test_a_run_of_no_epochs_is_refused(value):
    """Issue 21.8: max_epochs=-1 used to train nothing, test an untrained model and exit 0."""
    with pytest.raises(SystemExit, match=f'train_cfg.max_epochs is {value}; expected a whole '
                                         'number >= 1'):
        load_tool_config(CONFIG, {'train_cfg.max_epochs': value}, 'none', None, training=True)


def test_a_run_of_no_iterations_is_refused(tmp_path):
    config = tmp_path / 'by_iter.py'
    config.write_text(f'_base_ = [{CONFIG!r}]\n'
                      'train_cfg = dict(_delete_=True, by_epoch=False, max_iters=0)\n')
    with pytest.raises(SystemExit, match='train_cfg.max_iters is 0; expected a whole number'):
        load_tool_config(str(config), None, 'none', None, training=True)
    config.write_text(f'_base_ = [{CONFIG!r}]\n'
                      'train_cfg = dict(_delete_=True, by_epoch=False, max_iters=3)\n')
    cfg = load_tool_config(str(config), None, 'none', None, training=True)
    assert cfg.train_cfg.max_iters == 3


def test_no_epochs_is_accepted_to_test_loaded_weights():
    """The attention probe of tools/run_ablation.py tests a pretrained backbone untrained."""
    probe = str(REPO / 'configs/pretrained/svip_vit_synthetic_pretrained_attention.py')
    assert load_tool_config(probe, None, 'none', None, training=True).train_cfg.max_epochs == 0
    with pytest.raises(SystemExit, match='train_cfg.max_epochs is -1'):
        load_tool_config(probe, {'train_cfg.max_epochs': -1}, 'none', None, training=True)
    cfg = load_tool_config(CONFIG, {'train_cfg.max_epochs': 0, 'load_from': 'a.pth'}, 'none',
                           None, training=True)
    assert cfg.train_cfg.max_epochs == 0


def test_train_tool_refuses_no_epochs_before_doing_anything(tmp_path):
    proc = run_tool('train.py', CONFIG, '--work-dir', tmp_path / 'w', '--cfg-options',
                    'train_cfg.max_epochs=-1', cwd=tmp_path)
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    assert 'train_cfg.max_epochs is -1; expected a whole number >= 1' in proc.stderr
    assert not (tmp_path / 'w').exists() and not (tmp_path / 'data').exists()
    # tools/test.py evaluates a given checkpoint: the config's training length is not its
    cfg = load_tool_config(CONFIG, {'train_cfg.max_epochs': 0}, 'none', None)
    assert cfg.train_cfg.max_epochs == 0
