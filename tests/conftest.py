"""Fixtures shared by the test files.

The modules the tests import (``repo``, ``tiny_config``, ``tool_process``, ``xlsa17_fixture``)
live in ``tests/helpers``, which ``pytest.ini`` puts on the path.
"""
import pytest

from tiny_config import train_tiny


@pytest.fixture(scope='session')
def tiny_trained(tmp_path_factory):
    """The tiny synthetic job trained for one epoch, once per session (about 15 s), for tests
    that only read it: ``(base, cfg, checkpoint)`` with the data in ``base/data``, the run in
    ``base/work`` and the config written to ``base/tiny.py``. A test that writes into ``base``
    must copy what it changes to its own ``tmp_path`` first."""
    base = tmp_path_factory.mktemp('tiny_trained')
    cfg, ckpt = train_tiny(base)
    return base, cfg, ckpt
