"""SVIPVisionTransformer: shapes, attention maps, and timm / mmpretrain weight loading."""
import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.layers import resample_abs_pos_embed

from svip_mm.models.backbones import SVIPVisionTransformer


def _explicit_encode(model, patches, grid):
    """Reference: the same transformer with attention written out by hand, per layer."""
    b = patches.shape[0]
    x = torch.cat([model.cls_token.expand(b, -1, -1), patches], 1) + model.pos_embed
    maps = []
    for blk in model.blocks:
        h = blk.norm1(x)
        n, c = h.shape[1], h.shape[2]
        heads = blk.attn.num_heads
        qkv = blk.attn.qkv(h).view(b, n, 3, heads, c // heads)
        q, k, v = qkv[:, :, 0].transpose(1, 2), qkv[:, :, 1].transpose(1, 2), \
            qkv[:, :, 2].transpose(1, 2)
        attn = (q @ k.transpose(-1, -2) / (c // heads) ** 0.5).softmax(-1)
        maps.append(attn.mean(1))
        x = x + blk.attn.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
        x = x + blk.mlp(blk.norm2(x))
    return model.norm(x), maps


@pytest.mark.parametrize('arch,size,grid', [('base', 224, (14, 14)), ('tiny-cpu', 64, (8, 8))])
def test_entry_point_shapes(arch, size, grid):
    torch.manual_seed(0)
    model = SVIPVisionTransformer(arch).eval()
    images = torch.randn(1, 3, size, size)
    patches, g = model.embed(images)
    assert g == grid and patches.shape == (1, grid[0] * grid[1], model.embed_dims)
    tokens, maps = model.encode(patches, g)
    assert maps is None and tokens.shape == (1, 1 + grid[0] * grid[1], model.embed_dims)
    tokens2, maps = model.encode(patches, g, return_attn=True)
    assert len(maps) == model.num_layers
    assert maps[0].shape == (1, 1 + grid[0] * grid[1], 1 + grid[0] * grid[1])
    assert torch.allclose(tokens, tokens2)
    featmap = model(images)[0]
    assert featmap.shape == (1, model.embed_dims, *grid)


def test_attention_maps_and_tokens_match_explicit_attention():
    torch.manual_seed(1)
    model = SVIPVisionTransformer('tiny-cpu').eval()
    patches, grid = model.embed(torch.randn(2, 3, 64, 64))
    with torch.no_grad():
        tokens, maps = model.encode(patches, grid, return_attn=True)
        ref_tokens, ref_maps = _explicit_encode(model, patches, grid)
    assert torch.allclose(tokens, ref_tokens, atol=1e-5)
    for got, ref in zip(maps, ref_maps):
        assert torch.allclose(got, ref, atol=1e-6)
        assert torch.allclose(got.sum(-1), torch.ones_like(got.sum(-1)), atol=1e-5)


def test_maps_carry_no_gradient_but_tokens_do():
    model = SVIPVisionTransformer('tiny-cpu')
    patches, grid = model.embed(torch.randn(1, 3, 64, 64))
    tokens, maps = model.encode(patches, grid, return_attn=True)
    assert tokens.requires_grad and not any(m.requires_grad for m in maps)


def test_other_grid_resamples_the_position_embedding():
    model = SVIPVisionTransformer('tiny-cpu').eval()
    out = model(torch.randn(1, 3, 96, 64))[0]
    assert out.shape == (1, 192, 12, 8)


@pytest.fixture(scope='module')
def timm_vit_b(tmp_path_factory):
    torch.manual_seed(2)
    model = timm.create_model('vit_base_patch16_224', pretrained=False, num_classes=5).eval()
    folder = tmp_path_factory.mktemp('timm')
    torch.save(model.state_dict(), folder / 'vit_b16.pth')
    save_file(model.state_dict(), str(folder / 'vit_b16.safetensors'))
    return model, folder


@pytest.mark.parametrize('name', ['vit_b16.pth', 'vit_b16.safetensors'])
def test_timm_weights_give_equal_features(timm_vit_b, name):
    ref, folder = timm_vit_b
    ours = SVIPVisionTransformer(
        'base', out_type='raw', init_cfg=dict(type='Pretrained', checkpoint=str(folder / name)))
    ours.init_weights()
    ours.eval()
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (ref.forward_features(images) - ours(images)[0]).abs().max() <= 1e-5


def test_mmpretrain_weights_give_equal_features(tmp_path):
    from mmpretrain.models import VisionTransformer
    torch.manual_seed(3)
    ref = VisionTransformer('base', out_type='raw')
    ref.eval()
    state = {'backbone.' + k: v for k, v in ref.state_dict().items()}
    state['head.layers.head.weight'] = torch.zeros(10, 768)  # a whole classifier checkpoint
    torch.save({'meta': {'epoch': 3}, 'state_dict': state}, tmp_path / 'mm_vit_b16.pth')
    ours = SVIPVisionTransformer('base', out_type='raw', init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'mm_vit_b16.pth')))
    ours.init_weights()
    ours.eval()
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert (ref(images)[0] - ours(images)[0]).abs().max() <= 1e-5


def test_position_embedding_is_resampled_for_another_grid(timm_vit_b):
    ref, folder = timm_vit_b
    ours = SVIPVisionTransformer('base', img_size=112, init_cfg=dict(
        type='Pretrained', checkpoint=str(folder / 'vit_b16.pth')))
    ours.init_weights()
    expected = resample_abs_pos_embed(ref.pos_embed.detach(), [7, 7], [14, 14], 1)
    assert ours.pos_embed.shape == (1, 50, 768)
    assert torch.allclose(ours.pos_embed.detach(), expected)


def test_missing_and_unexpected_keys_are_listed(tmp_path, timm_vit_b):
    ref, _ = timm_vit_b
    state = dict(ref.state_dict())
    del state['blocks.3.mlp.fc1.weight']
    state['blocks.3.extra.weight'] = torch.zeros(1)
    torch.save(state, tmp_path / 'broken.pth')
    ours = SVIPVisionTransformer('base', init_cfg=dict(type='Pretrained',
                                                       checkpoint=str(tmp_path / 'broken.pth')))
    with pytest.raises(KeyError, match=r"missing keys \['blocks.3.mlp.fc1.weight'\].*"
                                       r"unexpected keys \['blocks.3.extra.weight'\]"):
        ours.init_weights()


def test_wrong_shapes_are_an_error_naming_the_tensor(tmp_path):
    small = SVIPVisionTransformer(dict(embed_dims=192, num_layers=12, num_heads=3))
    torch.save(small.state_dict(), tmp_path / 'small.pth')
    ours = SVIPVisionTransformer('base', init_cfg=dict(type='Pretrained',
                                                       checkpoint=str(tmp_path / 'small.pth')))
    with pytest.raises(ValueError, match=r'cls_token: file \(1, 1, 192\), model \(1, 1, 768\)'):
        ours.init_weights()


def test_missing_file_and_unknown_arch():
    ours = SVIPVisionTransformer('tiny-cpu', init_cfg=dict(type='Pretrained',
                                                           checkpoint='/no/such/vit.pth'))
    with pytest.raises(FileNotFoundError, match='/no/such/vit.pth'):
        ours.init_weights()
    with pytest.raises(ValueError, match="unknown arch 'huge'"):
        SVIPVisionTransformer('huge')


def test_explicit_reference_path_matches_the_fused_path():
    torch.manual_seed(4)
    model = SVIPVisionTransformer('tiny-cpu').eval()
    patches, grid = model.embed(torch.randn(2, 3, 64, 64))
    with torch.no_grad():
        fused, fused_maps = model.encode(patches, grid, return_attn=True)
        model.attention = 'explicit'
        explicit, explicit_maps = model.encode(patches, grid, return_attn=True)
    assert torch.allclose(fused, explicit, atol=1e-5)
    for a, b in zip(fused_maps, explicit_maps):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="attention must be 'fused' or 'explicit'"):
        SVIPVisionTransformer('tiny-cpu', attention='flash')


def test_attention_maps_stay_fp32_under_autocast():
    from svip_mm.models.backbones import head_mean_attention
    torch.manual_seed(5)
    model = SVIPVisionTransformer('tiny-cpu').eval()
    qkv = torch.randn(2, 65, 3 * 192)
    plain = head_mean_attention(qkv, model.blocks[0].attn)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        autocast = head_mean_attention(qkv, model.blocks[0].attn)
    assert autocast.dtype == torch.float32 and torch.allclose(autocast, plain, atol=1e-6)
