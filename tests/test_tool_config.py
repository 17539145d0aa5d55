"""--cfg-options of tools/train.py and tools/test.py: a key that would be silently ignored is
refused with the closest existing names; the keys the documentation uses are accepted."""
import pytest

from svip_mm.engine.tool_config import load_tool_config
from tiny_config import REPO
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


def test_the_documented_keys_are_accepted():
    options = {'test_evaluator.0.gamma': 0.1, 'randomness.seed': 3, 'work_dir': 'w',
               'optim_wrapper.optimizer.lr': 3e-4, 'custom_hooks.3.phase1_lr': 5e-4,
               'train_cfg.max_epochs': 2, 'model.backbone.drop_path_rate': 0.2,
               'load_from': 'a.pth'}
    cfg = load_tool_config(CONFIG, options, 'none', None)
    assert cfg.test_evaluator[0].gamma == 0.1 and cfg.custom_hooks[3].phase1_lr == 5e-4
    assert cfg.model.backbone.drop_path_rate == 0.2 and cfg.load_from == 'a.pth'


def test_train_tool_stops_before_doing_anything(tmp_path):
    proc = run_tool('train.py', CONFIG, '--work-dir', tmp_path / 'w', '--cfg-options',
                    'tarin_cfg.max_epochs=1', cwd=tmp_path)
    assert proc.returncode != 0 and 'Traceback' not in proc.stderr
    assert "--cfg-options tarin_cfg.max_epochs: the config has no 'tarin_cfg'" in proc.stderr
    assert not (tmp_path / 'w').exists() and not (tmp_path / 'data').exists()
