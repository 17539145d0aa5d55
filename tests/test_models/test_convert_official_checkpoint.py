"""tools/convert_official_checkpoint.py on a checkpoint written in the official format.

The reference below re-implements the official inference path from docs/method.md (sections 4
and 8): (a, b, c) units, selector sigmoid + k lowest, context token p2t(v2p(w)^T) flattened in
(C, 4) order and added to the other units, explicit attention, head_1 on all 49 units, mean.
"""
import argparse
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import HOOKS, MODELS

import svip_mm  # noqa: F401
from svip_mm.engine.checkpoint_hook import weight_mismatch
from svip_mm.models.heads.class_table import class_table_buffers
from repo import REPO, load_tool

DIM, HEADS, DEPTH, K, KEEP = 768, 12, 2, 6, 40
# tiny widths with the official layout (224 px, 16 px patches, 7x7 units of 2x2)
TINY = dict(dim=24, hidden=16)
TINY_HEADS = 2


def official_network(seed=0, dim=DIM, depth=DEPTH, k=K, hidden=512, word_dim=300):
    """The official model's keys: ViT-B/16 widths by default (depth shortened to 2) +
    head_1, token_cls, v2p, p2t, timm head."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    net = {'cls_token': r(1, 1, dim), 'pos_embed': r(1, 197, dim),
           'patch_embed.proj.weight': r(dim, 3, 16, 16), 'patch_embed.proj.bias': r(dim),
           'norm.weight': 1 + r(dim), 'norm.bias': r(dim),
           'head.weight': r(k, dim), 'head.bias': r(k),
           'head_1.weight': r(k, 4 * dim), 'head_1.bias': r(k),
           'token_cls.0.weight': r(hidden, 4 * dim), 'token_cls.0.bias': r(hidden),
           'token_cls.2.weight': r(1, hidden, std=0.2), 'token_cls.2.bias': r(1),
           'v2p.weight': r(dim, word_dim), 'v2p.bias': r(dim), 'p2t.weight': r(4, k, std=0.5),
           'p2t.bias': r(4)}
    for i in range(depth):
        p = f'blocks.{i}.'
        net.update({p + 'norm1.weight': 1 + r(dim), p + 'norm1.bias': r(dim),
                    p + 'attn.qkv.weight': r(3 * dim, dim), p + 'attn.qkv.bias': r(3 * dim),
                    p + 'attn.proj.weight': r(dim, dim), p + 'attn.proj.bias': r(dim),
                    p + 'norm2.weight': 1 + r(dim), p + 'norm2.bias': r(dim),
                    p + 'mlp.fc1.weight': r(4 * dim, dim), p + 'mlp.fc1.bias': r(4 * dim),
                    p + 'mlp.fc2.weight': r(dim, 4 * dim), p + 'mlp.fc2.bias': r(dim)})
    return net


def write_official(folder, net, k=K, keep=KEEP, dataset='CUB', word_dim=300):
    """An official checkpoint (pickled argparse args, as released) and its word-vector
    pickle in ``folder``; returns their paths and the vectors."""
    folder.mkdir(parents=True, exist_ok=True)
    args = argparse.Namespace(keep_token=keep, pool='mean', dataset=dataset, attribute_dim=k)
    torch.save({'epoch': 7, 'args': args, 'best_accs': {}, 'best_stacked_accs': {},
                'network': net, 'optimizer': {}}, folder / 'official.pth')
    w2v = np.random.default_rng(1).standard_normal((k, word_dim))  # float64, as released
    with open(folder / 'attribute_w2v.pkl', 'wb') as f:
        pickle.dump(w2v, f)
    return folder / 'official.pth', folder / 'attribute_w2v.pkl', w2v


def strict_load_problems(model, ckpt_path):
    """What the configs' checkpoint hook (SVIPCheckpointHook.after_load_checkpoint, run for
    test, resume and load_from) finds wrong with a checkpoint for ``model``: the hook's
    exception, if any, and weight_mismatch's lists (exempting the class-table buffers)."""
    checkpoint = torch.load(ckpt_path, map_location='cpu', weights_only=True)
    hook_cfg = Config.fromfile(REPO / 'configs/svip_vit_cub.py').default_hooks.checkpoint
    hook = HOOKS.build(hook_cfg.to_dict())
    runner = SimpleNamespace(model=model, work_dir=str(ckpt_path.parent),
                             _load_from=str(ckpt_path))
    try:
        hook.after_load_checkpoint(runner, checkpoint)
        refused = None
    except ValueError as e:
        refused = str(e)
    model_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    ckpt_shapes = {k: tuple(v.shape) for k, v in checkpoint['state_dict'].items()}
    return refused, weight_mismatch(model_shapes, ckpt_shapes, class_table_buffers(model))


_TOOL = None


def convert_in_process(capsys, *args):
    """Run the tool's main(argv) here (the subprocess costs ~8 s of imports): returns the
    exit code, stdout and stderr as the command line would give them. An exception other
    than SystemExit propagates: the command line would print a traceback."""
    global _TOOL
    if _TOOL is None:
        _TOOL = load_tool('convert_official_checkpoint')
    capsys.readouterr()
    code = 0
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # the unsafe-read warning
        try:
            _TOOL.main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
    out, err = capsys.readouterr()
    if isinstance(code, str):  # sys.exit('message'): Python prints it and exits with 1
        code, err = 1, err + code + '\n'
    return code, out, err


def official_inference(net, w2v, images):
    """[B, 3, 224, 224] -> [B, K] attribute scores, the official way."""
    b = images.shape[0]
    x = F.conv2d(images, net['patch_embed.proj.weight'], net['patch_embed.proj.bias'], stride=16)
    x = x.flatten(2).transpose(1, 2)  # [B, 196, 768]
    units = x.reshape(b, 7, 2, 7, 2, DIM).transpose(2, 3).reshape(b, 49, 4 * DIM)
    hidden = F.relu(F.linear(units, net['token_cls.0.weight'], net['token_cls.0.bias']))
    prob = torch.sigmoid(F.linear(hidden, net['token_cls.2.weight'], net['token_cls.2.bias']))
    kept = prob.squeeze(-1).topk(KEEP, largest=False).indices
    w = torch.from_numpy(w2v).float()
    fill = F.linear(F.linear(w, net['v2p.weight'], net['v2p.bias']).t(),
                    net['p2t.weight'], net['p2t.bias']).reshape(4 * DIM)  # (C, 4) order
    units = units.clone()
    for i in range(b):
        for u in range(49):
            if u not in kept[i]:
                units[i, u] += fill
    x = units.view(b, 7, 7, 2, 2, DIM).transpose(2, 3).reshape(b, 196, DIM)
    x = torch.cat([net['cls_token'].expand(b, -1, -1), x], 1) + net['pos_embed']
    for i in range(DEPTH):
        p = f'blocks.{i}.'
        h = F.layer_norm(x, (DIM, ), net[p + 'norm1.weight'], net[p + 'norm1.bias'], 1e-6)
        qkv = F.linear(h, net[p + 'attn.qkv.weight'], net[p + 'attn.qkv.bias'])
        q, k, v = qkv.reshape(b, 197, 3, HEADS, DIM // HEADS).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * (DIM // HEADS) ** -0.5).softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(b, 197, DIM)
        x = x + F.linear(out, net[p + 'attn.proj.weight'], net[p + 'attn.proj.bias'])
        h = F.layer_norm(x, (DIM, ), net[p + 'norm2.weight'], net[p + 'norm2.bias'], 1e-6)
        h = F.gelu(F.linear(h, net[p + 'mlp.fc1.weight'], net[p + 'mlp.fc1.bias']))
        x = x + F.linear(h, net[p + 'mlp.fc2.weight'], net[p + 'mlp.fc2.bias'])
    x = F.layer_norm(x, (DIM, ), net['norm.weight'], net['norm.bias'], 1e-6)
    fm = x[:, 1:].reshape(b, 7, 2, 7, 2, DIM).transpose(2, 3).reshape(b, 49, 4 * DIM)
    return F.linear(fm, net['head_1.weight'], net['head_1.bias']).mean(1)


@pytest.fixture(scope='module')
def official_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('official')
    net = official_network()
    _, _, w2v = write_official(folder, net)
    return folder, net, w2v


def run_tool(*args):
    return subprocess.run([sys.executable, str(REPO / 'tools/convert_official_checkpoint.py'),
                           *map(str, args)], capture_output=True, text=True, cwd='/')


def test_converted_checkpoint_loads_safely_and_predicts_like_the_official_path(official_files):
    folder, net, w2v = official_files
    out = folder / 'converted' / 'svip_cub.pth'
    result = run_tool(folder / 'official.pth', folder / 'attribute_w2v.pkl', out)
    assert result.returncode == 0, result.stderr
    assert 'weights_only=False' in result.stderr  # the unsafe read is announced
    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    settings = ckpt['meta']['svip_model']
    assert settings['neck']['keep_k'] == KEEP and settings['neck']['context_layout'] == 'official'
    assert settings['backbone']['arch']['num_layers'] == DEPTH

    # the word vectors by file name, beside the checkpoint
    assert settings['neck']['word_vectors'] == 'svip_cub_word_vectors.npy'
    settings['neck']['word_vectors'] = str(out.parent / settings['neck']['word_vectors'])
    settings['head']['num_classes'] = 5
    model = MODELS.build(settings)
    assert strict_load_problems(model, out) == (None, ([], [], []))
    missing, unexpected = model.load_state_dict(ckpt['state_dict'], strict=False)
    # the class table comes from the dataset, everything else from the checkpoint
    assert sorted(missing) == ['head.attribute_group_ids', 'head.class_attributes',
                               'head.seen_mask'] and not unexpected
    model.head.set_class_attributes(np.random.default_rng(2).random((5, K)), [0, 1, 2])
    model.eval()
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours, _ = model.infer(images)
        ref = official_inference(net, w2v, images)
    assert (ours - ref).abs().max() <= 1e-4
    assert np.allclose(np.load(str(out).replace('.pth', '_word_vectors.npy')), w2v)


def test_existing_output_is_not_overwritten(official_files, tmp_path):
    folder, _, _ = official_files
    out = tmp_path / 'keep.pth'
    out.write_bytes(b'user data')
    result = run_tool(folder / 'official.pth', folder / 'attribute_w2v.pkl', out)
    assert result.returncode != 0 and 'exists' in result.stderr
    assert out.read_bytes() == b'user data'


def test_word_vectors_of_the_wrong_shape(official_files, tmp_path):
    folder, _, _ = official_files
    with open(tmp_path / 'w2v.pkl', 'wb') as f:
        pickle.dump(np.zeros((K + 1, 300)), f)
    result = run_tool(folder / 'official.pth', tmp_path / 'w2v.pkl', tmp_path / 'o.pth')
    assert result.returncode != 0
    assert 'word vectors have shape (7, 300)' in result.stderr and '[6, 300]' in result.stderr


def test_not_an_official_checkpoint(tmp_path):
    torch.save({'state_dict': {}}, tmp_path / 'other.pth')
    with open(tmp_path / 'w2v.pkl', 'wb') as f:
        pickle.dump(np.zeros((K, 300)), f)
    result = run_tool(tmp_path / 'other.pth', tmp_path / 'w2v.pkl', tmp_path / 'o.pth')
    assert result.returncode != 0 and "expected a dict with a 'network'" in result.stderr


def tiny_official(folder, k=K, keep=KEEP, dataset='CUB', replace=None):
    """A tiny official-layout checkpoint in ``folder``, with ``replace``: {key: shape} of
    tensors to give another shape. Returns the paths and the intact network."""
    net = official_network(depth=2, k=k, **TINY)
    broken = dict(net)
    for key, shape in (replace or {}).items():
        broken[key] = torch.zeros(shape)
    official, w2v_file, w2v = write_official(folder, broken, k=k, keep=keep, dataset=dataset)
    return official, w2v_file, w2v, net


D, H = TINY['dim'], TINY['hidden']
WRONG_SHAPES = {
    'qkv': ('blocks.0.attn.qkv.weight', (3 * D, D + 1)),
    'token_cls.0 input': ('token_cls.0.weight', (H, 4 * D - 1)),
    'token_cls.0 width': ('token_cls.0.weight', (H + 2, 4 * D)),
    'p2t attributes': ('p2t.weight', (4, K + 1)),
    'p2t outputs': ('p2t.weight', (9, K)),
    'pos_embed not square': ('pos_embed', (1, 190, D)),  # 189 positions: no square grid
}


def error_lines(err):
    return [line for line in err.splitlines() if line.startswith('error:')]


@pytest.mark.parametrize('case', sorted(WRONG_SHAPES))
def test_a_wrong_shaped_tensor_stops_the_conversion(case, tmp_path, capsys):
    key, shape = WRONG_SHAPES[case]
    official, w2v_file, _, net = tiny_official(tmp_path / 'in', replace={key: shape})
    out_dir = tmp_path / 'out'
    code, out, err = convert_in_process(capsys, official, w2v_file, out_dir / 'svip.pth',
                                        '--num-heads', TINY_HEADS)
    assert code not in (0, None), f'converted with exit 0: {out}'
    lines = error_lines(err)
    assert len(lines) == 1, err
    expected = list(net[key].shape)  # what the intact network holds
    if key == 'pos_embed':  # the grid cannot be read, so the nearest square grid is named
        expected = [1, 1 + 14 * 14, D]
    for part in (key, str(list(shape)), str(expected)):
        assert part in lines[0], f'{part!r} not in {lines[0]!r}'
    assert 'Traceback' not in err
    assert not out_dir.exists() or not any(out_dir.iterdir())  # nothing written, not even half


def test_the_command_line_stops_with_one_error_line(tmp_path):
    """The same, through a real process: exit status, stderr, no traceback, no file."""
    key, shape = WRONG_SHAPES['qkv']
    official, w2v_file, _, net = tiny_official(tmp_path / 'in', replace={key: shape})
    out_dir = tmp_path / 'out'
    result = run_tool(official, w2v_file, out_dir / 'svip.pth', '--num-heads', TINY_HEADS)
    assert result.returncode != 0, result.stdout
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and key in lines[0], result.stderr
    assert str(list(shape)) in lines[0] and str(list(net[key].shape)) in lines[0]
    assert 'Traceback' not in result.stderr
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_missing_and_left_over_tensors_are_named(tmp_path, capsys):
    official, w2v_file, _, net = tiny_official(tmp_path / 'in')
    ckpt = torch.load(official, weights_only=False)
    del ckpt['network']['blocks.1.mlp.fc2.bias']
    ckpt['network']['fc_norm.weight'] = torch.ones(D)  # maps to nothing in svip_mm
    torch.save(ckpt, official)
    code, _, err = convert_in_process(capsys, official, w2v_file, tmp_path / 'out' / 'o.pth',
                                      '--num-heads', TINY_HEADS)
    lines = error_lines(err)
    assert code != 0 and len(lines) == 1, err
    assert f"blocks.1.mlp.fc2.bias (expected {list(net['blocks.1.mlp.fc2.bias'].shape)})" \
        in lines[0]
    assert f'fc_norm.weight {[D]}' in lines[0]
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('dataset', ['cub', 'awa2', 'sun'])
def test_converted_file_passes_the_strict_load_of_each_dataset_config(dataset, tmp_path,
                                                                      capsys):
    """Converted in one folder, moved to another, built from the dataset's config with the
    converter's settings: the checkpoint hook of the configs finds nothing to refuse."""
    cfg = Config.fromfile(REPO / f'configs/svip_vit_{dataset}.py')
    k, keep = cfg.model.head.num_attributes, cfg.model.neck.keep_k
    official, w2v_file, w2v, net = tiny_official(tmp_path / 'in', k=k, keep=keep,
                                                 dataset=dataset.upper())
    code, _, err = convert_in_process(capsys, official, w2v_file,
                                      tmp_path / 'converted' / 'svip.pth',
                                      '--num-heads', TINY_HEADS)
    assert code == 0, err
    moved = tmp_path / 'elsewhere'
    shutil.move(tmp_path / 'converted', moved)
    ckpt_path = moved / 'svip.pth'
    settings = torch.load(ckpt_path, map_location='cpu', weights_only=True)['meta']['svip_model']
    assert settings['neck']['num_attributes'] == k and settings['neck']['keep_k'] == keep

    model_cfg = cfg.model.to_dict()
    for part in ('backbone', 'neck', 'head'):  # the config's model, the converter's settings
        model_cfg[part].update(settings[part])
    model_cfg['neck']['word_vectors'] = str(moved / settings['neck']['word_vectors'])
    model = MODELS.build(model_cfg)
    assert strict_load_problems(model, ckpt_path) == (None, ([], [], []))
    # and the weights are the official ones
    state = torch.load(ckpt_path, map_location='cpu', weights_only=True)['state_dict']
    model.load_state_dict(state, strict=False)
    assert torch.equal(model.backbone.pos_embed.data, net['pos_embed'])
    assert torch.equal(model.neck.p2t.weight.data, net['p2t.weight'])
    assert np.allclose(model.neck.word_vectors.numpy(), w2v)


def test_a_wrong_checkpoint_is_refused_by_the_same_strict_check(tmp_path, capsys):
    """The check above can fail: a converted AwA2 checkpoint against the CUB config."""
    official, w2v_file, _, _ = tiny_official(tmp_path / 'in', k=85, keep=45)
    code, _, err = convert_in_process(capsys, official, w2v_file, tmp_path / 'c' / 'svip.pth',
                                      '--num-heads', TINY_HEADS)
    assert code == 0, err
    settings = torch.load(tmp_path / 'c' / 'svip.pth', weights_only=True)['meta']['svip_model']
    cfg = Config.fromfile(REPO / 'configs/svip_vit_cub.py').model.to_dict()
    for part in ('backbone', 'neck', 'head'):
        cfg[part].update({k: v for k, v in settings[part].items()
                          if k not in ('num_attributes', 'word_vectors')})
    cfg['neck']['word_vectors'] = np.zeros((312, 300))
    refused, (_, _, wrong) = strict_load_problems(MODELS.build(cfg), tmp_path / 'c' / 'svip.pth')
    assert refused and 'head.fc.weight' in refused and wrong


def strings_in(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from strings_in(key)
            yield from strings_in(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from strings_in(value)


def test_converted_file_holds_no_folder_of_the_conversion(tmp_path, capsys, monkeypatch):
    official, w2v_file, _, _ = tiny_official(tmp_path / 'inputs')
    out_dir = tmp_path / 'converted'
    out_dir.mkdir()
    monkeypatch.chdir(out_dir)  # relative and absolute paths: neither may end up in the file
    code, _, err = convert_in_process(capsys, official, w2v_file, 'svip.pth',
                                      '--num-heads', TINY_HEADS)
    assert code == 0, err
    data = (out_dir / 'svip.pth').read_bytes()
    for folder in (tmp_path, out_dir, tmp_path / 'inputs'):
        assert os.fsencode(str(folder)) not in data
    meta = torch.load(out_dir / 'svip.pth', weights_only=True)['meta']
    paths = [s for s in strings_in(meta) if os.sep in s]
    assert not paths, f'meta holds paths: {paths}'
    assert meta['converted_from'] == 'official.pth'
    assert sorted(p.name for p in out_dir.iterdir()) == ['svip.pth', 'svip_word_vectors.npy']


def test_existing_word_vector_file_is_not_overwritten(tmp_path, capsys):
    official, w2v_file, _, _ = tiny_official(tmp_path / 'in')
    (tmp_path / 'o_word_vectors.npy').write_bytes(b'user data')
    code, _, err = convert_in_process(capsys, official, w2v_file, tmp_path / 'o.pth',
                                      '--num-heads', TINY_HEADS)
    assert code != 0 and 'exists' in err
    assert (tmp_path / 'o_word_vectors.npy').read_bytes() == b'user data'
    assert not (tmp_path / 'o.pth').exists()
