"""A quiet console for MMEngine's logs: the log file keeps everything, the console warnings.

A Runner logs the system environment, the whole config and the order of its hooks when it is
built, then a line per logging interval and the evaluation tables. In the work dir's log file
that is the record of the run; in a notebook or a docs page it buries the cells' own output (a
few hundred lines before tutorial 2's first figure). MMEngine's ``log_level`` sets the console
and the log file together, and ``Runner.__init__`` logs the environment and the config right
after it builds its logger, so quieting the console once the Runner is built is too late.
:class:`QuietConsoleRunner` quiets the console where the logger is built, and
:func:`quiet_console` does it for a logger that already exists (e.g. the one
``prepare_data`` logs to).
"""
import logging
from typing import Optional, Union

from mmengine.logging import MMLogger
from mmengine.runner import Runner

__all__ = ['QuietConsoleRunner', 'quiet_console']

# MMEngine's own CheckpointHook builds a FileClient in every before_train ("not removed until
# MMEngine 1.0", mmengine 0.10), and FileClient then warns that it and its HardDiskBackend are
# deprecated: notices about MMEngine's code, nothing a user can act on
MMENGINE_SELF_NOTICES = ('"FileClient" will be deprecated in future',
                         '"HardDiskBackend" is the alias of "LocalBackend"')


class _DropMMEngineSelfNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(notice in message for notice in MMENGINE_SELF_NOTICES)


def _level_number(level: Union[int, str]) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelName(str(level).upper())
    if not isinstance(number, int):  # getLevelName answers 'Level X' for unknown names
        raise ValueError(f'unknown log level {level!r}')
    return number


def _is_console(handler: logging.Handler) -> bool:
    # a FileHandler is a StreamHandler too: only the ones writing to a stream count
    return (isinstance(handler, logging.StreamHandler)
            and not isinstance(handler, logging.FileHandler))


def quiet_console(logger: Optional[MMLogger] = None,
                  level: Union[int, str] = 'WARNING') -> MMLogger:
    """Show only records of ``level`` and above on ``logger``'s console.

    The logger's file handlers keep their level, so its log file still gets every record; a
    console handler that is already stricter (MMEngine's on ranks other than 0: ERROR) stays
    so. The console also drops the two deprecation warnings that MMEngine's own
    ``CheckpointHook`` causes in every training run (:data:`MMENGINE_SELF_NOTICES`); the log
    file keeps them.

    Args:
        logger: the logger; None: ``MMLogger.get_current_instance()``, the one that
            ``print_log(..., logger='current')`` writes to (before any Runner is built,
            MMEngine's default logger ``'mmengine'``).
        level: the lowest level still shown on the console, a name or a number.

    Returns:
        The logger.
    """
    number = _level_number(level)
    if logger is None:
        logger = MMLogger.get_current_instance()
    for handler in logger.handlers:
        if _is_console(handler):
            handler.setLevel(max(handler.level, number))
            if not any(isinstance(f, _DropMMEngineSelfNotices) for f in handler.filters):
                handler.addFilter(_DropMMEngineSelfNotices())
    return logger


class QuietConsoleRunner(Runner):
    """A :class:`~mmengine.runner.Runner` that shows only warnings and errors on the console.

    Built as a Runner is (``QuietConsoleRunner.from_cfg(cfg)``). The log file gets what the
    config's ``log_level`` lets through, as with a plain Runner: the full log of a run is
    ``<work_dir>/<timestamp>/<timestamp>.log``, its logged scalars (losses, learning rate,
    metrics) ``<work_dir>/<timestamp>/vis_data/scalars.json`` with a ``LocalVisBackend``, and
    ``runner.message_hub`` holds them in Python. The console shows records of
    :attr:`console_level` and above only, from the first one on (the environment and config
    dump that ``Runner.__init__`` logs included).
    """

    #: the lowest level shown on the console (a subclass may change it: it is read in __init__)
    console_level: Union[int, str] = 'WARNING'

    def build_logger(self, log_level: Union[int, str] = 'INFO',
                     log_file: Optional[str] = None, **kwargs) -> MMLogger:
        """The Runner's logger (see :meth:`mmengine.runner.Runner.build_logger`), its console
        quieted to :attr:`console_level`."""
        logger = super().build_logger(log_level=log_level, log_file=log_file, **kwargs)
        return quiet_console(logger, self.console_level)
