"""read_config: a config path that is not a file is named, with what was expected."""
import pytest

from svip_mm.apis import ZSLInferencer
from svip_mm.utils.config_file import read_config
from repo import REPO


def test_a_config_file_is_read():
    cfg = read_config(REPO / 'configs' / 'svip_vit_synthetic.py')
    assert cfg.model.type == 'SVIPClassifier'


@pytest.mark.parametrize('name, words', [
    ('nope.py', 'config not found: '),
    ('folder', 'is a folder: expected a config file'),
])
def test_a_path_that_is_not_a_config_file_is_named(tmp_path, name, words):
    (tmp_path / 'folder').mkdir()
    path = tmp_path / name
    with pytest.raises(FileNotFoundError, match=words) as info:
        read_config(path)
    assert str(path) in str(info.value)
    # the inferencer reads its config the same way
    with pytest.raises(FileNotFoundError, match=words):
        ZSLInferencer(str(path), str(tmp_path / 'x.pth'))
