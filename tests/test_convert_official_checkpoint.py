"""tools/convert_official_checkpoint.py on a checkpoint written in the official format.

The reference below re-implements the official inference path from the spec (section 4 and
8): (a, b, c) units, selector sigmoid + k lowest, context token p2t(v2p(w)^T) flattened in
(C, 4) order and added to the other units, explicit attention, head_1 on all 49 units, mean.
"""
import argparse
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import svip_mm  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
DIM, HEADS, DEPTH, K, KEEP = 768, 12, 2, 6, 40


def official_network(seed=0):
    """ViT-B/16 widths (depth shortened to 2) + head_1, token_cls, v2p, p2t, timm head."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    net = {'cls_token': r(1, 1, DIM), 'pos_embed': r(1, 197, DIM),
           'patch_embed.proj.weight': r(DIM, 3, 16, 16), 'patch_embed.proj.bias': r(DIM),
           'norm.weight': 1 + r(DIM), 'norm.bias': r(DIM),
           'head.weight': r(K, DIM), 'head.bias': r(K),
           'head_1.weight': r(K, 4 * DIM), 'head_1.bias': r(K),
           'token_cls.0.weight': r(512, 4 * DIM), 'token_cls.0.bias': r(512),
           'token_cls.2.weight': r(1, 512, std=0.2), 'token_cls.2.bias': r(1),
           'v2p.weight': r(DIM, 300), 'v2p.bias': r(DIM), 'p2t.weight': r(4, K, std=0.5),
           'p2t.bias': r(4)}
    for i in range(DEPTH):
        p = f'blocks.{i}.'
        net.update({p + 'norm1.weight': 1 + r(DIM), p + 'norm1.bias': r(DIM),
                    p + 'attn.qkv.weight': r(3 * DIM, DIM), p + 'attn.qkv.bias': r(3 * DIM),
                    p + 'attn.proj.weight': r(DIM, DIM), p + 'attn.proj.bias': r(DIM),
                    p + 'norm2.weight': 1 + r(DIM), p + 'norm2.bias': r(DIM),
                    p + 'mlp.fc1.weight': r(4 * DIM, DIM), p + 'mlp.fc1.bias': r(4 * DIM),
                    p + 'mlp.fc2.weight': r(DIM, 4 * DIM), p + 'mlp.fc2.bias': r(DIM)})
    return net


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
    args = argparse.Namespace(keep_token=KEEP, pool='mean', dataset='CUB', attribute_dim=K)
    torch.save({'epoch': 7, 'args': args, 'best_accs': {}, 'best_stacked_accs': {},
                'network': net, 'optimizer': {}}, folder / 'official.pth')
    w2v = np.random.default_rng(1).standard_normal((K, 300))  # float64, as released
    with open(folder / 'attribute_w2v.pkl', 'wb') as f:
        pickle.dump(w2v, f)
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

    settings['head']['num_classes'] = 5
    model = MODELS.build(settings)
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
