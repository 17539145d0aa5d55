"""svip_mm.engine.console_log: the Runner's logs in its log file, only warnings on the console.

The tutorials build their Runners with QuietConsoleRunner so that the environment, config
and hook dump of Runner.__init__ and the per-interval training lines do not bury the cells'
own output; the log file must still get all of it.
"""
import logging

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.runner import Runner

from svip_mm.engine.console_log import (MMENGINE_SELF_NOTICES, QuietConsoleRunner,
                                        quiet_console)

# what Runner.__init__ logs at INFO: the environment, the config and the hook order
INIT_LOGS = ('System environment', "marker = 'a config line'",
             'Hooks will be executed in the following order')


class ToyModel(BaseModel):
    def forward(self, inputs, data_samples=None, mode='tensor'):
        return inputs


def build(runner_cls, work_dir, log_level='INFO'):
    """A Runner with a config (its dump is logged too) and nothing to train."""
    cfg = Config(dict(work_dir=str(work_dir), log_level=log_level, marker='a config line'))
    return runner_cls(model=ToyModel(), work_dir=str(work_dir), cfg=cfg, log_level=log_level,
                      experiment_name=f'console_log_{work_dir.name}', default_scope='mmengine')


def test_quiet_runner_logs_to_its_file_and_shows_only_warnings(tmp_path, capsys):
    runner = build(QuietConsoleRunner, tmp_path / 'quiet')
    runner.logger.info('an info line')
    runner.logger.warning('a warning line')
    console = capsys.readouterr().out
    log = open(runner.logger.log_file).read()
    for text in INIT_LOGS + ('an info line', 'a warning line'):
        assert text in log, text
    for text in INIT_LOGS + ('an info line',):
        assert text not in console, text
    assert 'a warning line' in console


def test_a_plain_runner_shows_its_init_logs_on_the_console(tmp_path, capsys):
    """The control: what QuietConsoleRunner keeps off the console is there without it."""
    build(Runner, tmp_path / 'plain')
    console = capsys.readouterr().out
    for text in INIT_LOGS:
        assert text in console, text


def test_the_configs_log_level_still_sets_the_file(tmp_path, capsys):
    runner = build(QuietConsoleRunner, tmp_path / 'debug', log_level='DEBUG')
    runner.logger.debug('a debug line')
    assert 'a debug line' in open(runner.logger.log_file).read()
    assert 'a debug line' not in capsys.readouterr().out


def test_quiet_console_leaves_file_handlers_and_stricter_consoles(tmp_path):
    logger = MMLogger.get_instance('console_log_handlers', log_file=str(tmp_path / 'x.log'),
                                   log_level='INFO')
    console, file = [h for h in logger.handlers if type(h) is logging.StreamHandler], \
        [h for h in logger.handlers if isinstance(h, logging.FileHandler)]
    assert len(console) == 1 and len(file) == 1
    assert quiet_console(logger, 'warning') is logger
    assert console[0].level == logging.WARNING and file[0].level == logging.INFO
    console[0].setLevel(logging.ERROR)  # as MMEngine sets it on ranks other than 0
    quiet_console(logger, logging.WARNING)
    assert console[0].level == logging.ERROR


def test_mmengines_notices_about_its_own_checkpoint_hook_stay_in_the_file(tmp_path, capsys,
                                                                          monkeypatch):
    """CheckpointHook.before_train builds a FileClient (mmengine 0.10), which warns that it
    and HardDiskBackend are deprecated: off the console, still in the log file."""
    from mmengine.fileio import FileClient
    # FileClient keeps one client per argument set for the process, and its backend warns
    # only when it is created: forget those an earlier test made
    monkeypatch.setattr(FileClient, '_instances', {})
    runner = build(QuietConsoleRunner, tmp_path / 'notices')
    FileClient.infer_client(None, str(tmp_path))
    runner.logger.warning('a warning of the run')
    console = capsys.readouterr().out
    log = open(runner.logger.log_file).read()
    for notice in MMENGINE_SELF_NOTICES:
        assert notice in log and notice not in console
    assert 'a warning of the run' in console


def test_quiet_console_defaults_to_the_current_logger():
    logger = MMLogger.get_instance('console_log_current')
    stream = [h for h in logger.handlers if type(h) is logging.StreamHandler][0]
    stream.setLevel(logging.INFO)
    assert quiet_console() is logger  # the latest created instance
    assert stream.level == logging.WARNING


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match="'LOUD'"):
        quiet_console(MMLogger.get_instance('console_log_unknown'), 'LOUD')
