"""Pretrained ViT weights named by a timm hub name or a URL, loaded without network.

The hub test lays out huggingface_hub's cache by hand (models--OWNER--NAME with blobs,
snapshots/<commit>/ and refs/main) and sets HF_HUB_OFFLINE; the URL test serves the file from
127.0.0.1 (http: https goes through the same torch.hub download, only the transport differs).
"""
import argparse
import functools
import hashlib
import http.server
import os
import socket
import threading

import huggingface_hub.constants
import pytest
import timm
import torch
from safetensors.torch import load_file, save_file

from svip_mm.utils.safe_checkpoint import UnsafeCheckpointError
from svip_mm.models.backbones import SVIPVisionTransformer
from repo import REPO

# a tiny ViT in timm's key layout (and the SVIP arch that matches it)
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, patch_size=8, img_size=32)
REPO_ID = 'timm/vit_tiny_svip_test.in1k'
COMMIT = 'a' * 40  # what refs/main holds: a commit hash


def tiny_timm_state():
    torch.manual_seed(5)
    model = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32,
                              patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=3)
    return model.state_dict()


def tiny_svip(checkpoint):
    return SVIPVisionTransformer(TINY, init_cfg=dict(type='Pretrained', checkpoint=checkpoint))


def assert_loaded(model, weights):
    """Every tensor of the backbone equals the file's (the file's classifier is not used)."""
    own = model.state_dict()
    assert set(own) == {k for k in weights if not k.startswith('head.')}
    for key, value in own.items():
        assert torch.equal(value, weights[key]), key


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty huggingface_hub cache in tmp_path, offline.

    huggingface_hub reads HF_HOME / HF_HUB_CACHE / HF_HUB_OFFLINE into its constants at
    import, so the constants are patched as well as the environment.
    """
    cache = tmp_path / 'hf' / 'hub'
    cache.mkdir(parents=True)
    monkeypatch.setenv('HF_HOME', str(tmp_path / 'hf'))
    monkeypatch.setenv('HF_HUB_CACHE', str(cache))
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HOME', str(tmp_path / 'hf'))
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_CACHE', str(cache))
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)
    return cache


def put_in_hub_cache(cache, repo_id, filename, source):
    """Store a file the way huggingface_hub does: a blob named by its hash, a snapshot link."""
    repo = cache / ('models--' + repo_id.replace('/', '--'))
    data = source.read_bytes()
    blob = repo / 'blobs' / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    snapshot = repo / 'snapshots' / COMMIT
    snapshot.mkdir(parents=True)
    os.symlink(os.path.relpath(blob, snapshot), snapshot / filename)
    (repo / 'refs').mkdir()
    (repo / 'refs' / 'main').write_text(COMMIT)
    return repo


@pytest.mark.parametrize('filename', ['model.safetensors', 'pytorch_model.bin'])
def test_timm_hub_name_loads_from_the_hub_cache_offline(tmp_path, hub_cache, filename):
    state = tiny_timm_state()
    source = tmp_path / filename
    if filename.endswith('.safetensors'):
        save_file(state, str(source))
        weights = load_file(str(source))
    else:  # timm's older hub layout: a pickled state dict, read by the safe unpickler
        torch.save(state, source)
        weights = torch.load(source, weights_only=True)
    put_in_hub_cache(hub_cache, REPO_ID, filename, source)
    model = tiny_svip(REPO_ID)
    model.init_weights()
    assert_loaded(model, weights)


def test_timm_hub_name_offline_and_not_cached_says_what_to_download_and_where(hub_cache):
    with pytest.raises(FileNotFoundError) as info:
        tiny_svip(REPO_ID).init_weights()
    message = str(info.value)
    assert REPO_ID in message and 'HF_HUB_OFFLINE' in message and 'model.safetensors' in message
    assert str(hub_cache / 'models--timm--vit_tiny_svip_test.in1k') in message
    assert 'checkpoint=PATH' in message


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture
def torch_hub_dir(tmp_path, monkeypatch):
    """torch.hub's cache in tmp_path (TORCH_HOME; no directory set by set_dir)."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setattr(torch.hub, '_hub_dir', None)
    assert torch.hub.get_dir() == str(tmp_path / 'torch' / 'hub')
    return tmp_path / 'torch' / 'hub'


class Server:
    """An HTTP server on 127.0.0.1 serving one folder, in a thread."""

    def __init__(self, folder):
        self.requests = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # record the paths asked for, print nothing
                requests.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(
            ('127.0.0.1', 0), functools.partial(Handler, directory=str(folder)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f'http://127.0.0.1:{self.httpd.server_address[1]}/{name}'

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / 'www'
    folder.mkdir()
    server = Server(folder)
    yield folder, server
    if server.thread.is_alive():
        server.stop()


def test_url_downloads_into_the_torch_hub_cache_and_reuses_it(torch_hub_dir, served):
    folder, server = served
    save_file(tiny_timm_state(), str(folder / 'vit_tiny.safetensors'))
    weights = load_file(str(folder / 'vit_tiny.safetensors'))
    url = server.url('vit_tiny.safetensors')
    first = tiny_svip(url)
    first.init_weights()
    assert_loaded(first, weights)
    assert (torch_hub_dir / 'checkpoints' / 'vit_tiny.safetensors').read_bytes() == \
        (folder / 'vit_tiny.safetensors').read_bytes()
    assert server.requests == ['/vit_tiny.safetensors']
    server.stop()  # the second load can only come from the cache
    second = tiny_svip(url)
    second.init_weights()
    assert_loaded(second, weights)


def test_url_file_is_read_by_the_safe_reader(torch_hub_dir, served):
    """A downloaded .pth that pickles an object is refused, not unpickled."""
    folder, server = served
    torch.save({'state_dict': tiny_timm_state(), 'args': argparse.Namespace(lr=1)},
               folder / 'with_object.pth')
    with pytest.raises(UnsafeCheckpointError):
        tiny_svip(server.url('with_object.pth')).init_weights()


def test_url_not_reachable_and_not_cached_says_what_to_download_and_where(torch_hub_dir):
    url = f'http://127.0.0.1:{free_port()}/vit_tiny.safetensors'  # nothing listens there
    with pytest.raises(FileNotFoundError) as info:
        tiny_svip(url).init_weights()
    message = str(info.value)
    assert url in message
    assert str(torch_hub_dir / 'checkpoints' / 'vit_tiny.safetensors') in message
    assert 'checkpoint=PATH' in message
    assert not (torch_hub_dir / 'checkpoints' / 'vit_tiny.safetensors').exists()


def test_a_local_file_named_like_a_hub_name_is_loaded_as_a_file(tmp_path, hub_cache,
                                                                 monkeypatch):
    """A local file always wins over the hub (the cache here is empty and offline)."""
    (tmp_path / 'timm').mkdir()
    torch.save(tiny_timm_state(), tmp_path / 'timm' / 'vit_tiny_local')
    monkeypatch.chdir(tmp_path)
    model = tiny_svip('timm/vit_tiny_local')
    model.init_weights()
    assert_loaded(model, torch.load(tmp_path / 'timm' / 'vit_tiny_local', weights_only=True))


@pytest.mark.parametrize('name', ['cub', 'awa2', 'sun'])
def test_real_dataset_configs_name_timm_hub_weights(name):
    from mmengine.config import Config
    from svip_mm.models.backbones.vit_checkpoint import hub_repo_id
    repo = str(REPO / 'configs' / f'svip_vit_{name}.py')
    init = Config.fromfile(repo).model.backbone.init_cfg
    assert init.type == 'Pretrained'
    assert hub_repo_id(init.checkpoint) == 'timm/vit_base_patch16_224.orig_in21k_ft_in1k'


def test_building_a_config_model_downloads_nothing_and_init_says_where(hub_cache):
    """The weights are fetched by init_weights (training), not when the model is built."""
    from mmengine.config import Config
    init = Config.fromfile(os.path.join(str(REPO), 'configs',
                                        'svip_vit_cub.py')).model.backbone.init_cfg
    model = SVIPVisionTransformer('base', init_cfg=init.to_dict())
    assert list(hub_cache.iterdir()) == []
    with pytest.raises(FileNotFoundError, match='models--timm--vit_base_patch16_224'):
        model.init_weights()
