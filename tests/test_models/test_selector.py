"""SemanticPatchSelector: aggregation, keep-k, labels, context token, bad input."""
import numpy as np
import pytest
import torch

from svip_mm.models.necks import SemanticPatchSelector, aggregate_cls_attention
from svip_mm.models.necks.unit_grid_context import UnitGridContext
from svip_mm.models.utils import patches_to_units


def _random_maps(layers=3, b=2, n=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(b, n, n, generator=g).softmax(-1) for _ in range(layers)]


def test_rollout_matches_a_naive_per_layer_loop():
    maps = _random_maps()
    n = maps[0].shape[-1]
    expected = []
    for b in range(2):
        r = torch.eye(n)
        for a in maps:  # R = A_L ... A_1 with identity added and rows renormalised
            aug = a[b] + torch.eye(n)
            aug = aug / aug.sum(1, keepdim=True)
            r = aug @ r
        expected.append(r[0, 1:])
    assert torch.allclose(aggregate_cls_attention(maps, 'rollout', 4), torch.stack(expected),
                          atol=1e-6)


def test_paper_aggregation_and_last_layer():
    maps = _random_maps()
    heads = 4
    w = maps[0] * heads
    for a in maps[1:]:
        w = w + w @ (a * heads)
    assert torch.allclose(aggregate_cls_attention(maps, 'paper', heads), w[:, 0, 1:], rtol=1e-5)
    assert torch.equal(aggregate_cls_attention(maps, 'last', heads), maps[-1][:, 0, 1:])
    with pytest.raises(ValueError, match="'median'"):
        aggregate_cls_attention(maps, 'median', heads)


def _selector(**kw):
    args = dict(in_channels=4, num_attributes=3, keep_k=2, word_vectors=np.ones((3, 5)))
    args.update(kw)
    return SemanticPatchSelector(**args)


def test_keep_k_and_labels_follow_attention_and_selector():
    neck = _selector()
    scores = torch.tensor([[0.1, 0.4, 0.3, 0.2]])
    keep = neck.keep_from_attention(scores)
    assert keep.tolist() == [[False, True, True, False]]
    logits = torch.tensor([[2.0, -1.0, 0.5, -3.0]])
    assert neck.keep_from_selector(logits).tolist() == [[False, True, False, True]]
    out = neck.loss(logits, keep)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.tensor([[1.0, 0.0, 0.0, 1.0]])) * 3.0
    assert torch.allclose(out['loss_selector'], expected)
    assert out['selector_acc'].item() == pytest.approx(50.0)


def test_attention_unit_scores_use_the_2x2_blocks():
    neck = _selector(aggregation='last')
    n = 1 + 16
    attn = torch.zeros(1, n, n)
    attn[0, 0, 1 + 10] = 1.0  # CLS attends only to patch (2, 2): unit (1, 1) = unit 3
    attn[0, 1:, 1:] = torch.eye(16)
    scores = neck.attention_unit_scores([attn], (4, 4), num_heads=1)
    assert scores.argmax().item() == 3 and scores[0, 3] == pytest.approx(0.25)


def test_context_token_add_and_replace():
    torch.manual_seed(0)
    patches = torch.randn(1, 16, 4)
    keep = torch.tensor([[True, False, True, True]])
    add = _selector(context_mode='add')
    e = add.context_token()
    assert e.shape == (16, )
    units_in = patches_to_units(patches, (4, 4), 2)
    units_out = patches_to_units(add.contextualise(patches, keep, (4, 4)), (4, 4), 2)
    assert torch.allclose(units_out[0, 1], units_in[0, 1] + e)
    assert torch.equal(units_out[0, [0, 2, 3]], units_in[0, [0, 2, 3]])
    rep = _selector(context_mode='replace')
    units_rep = patches_to_units(rep.contextualise(patches, keep, (4, 4)), (4, 4), 2)
    assert torch.allclose(units_rep[0, 1], rep.context_token())
    assert torch.equal(units_rep[0, 0], units_in[0, 0])


def test_drop_mode_zeroes_the_units_that_are_not_kept_and_has_no_context_token():
    torch.manual_seed(0)
    patches = torch.randn(1, 16, 4)
    keep = torch.tensor([[True, False, True, False]])
    neck = SemanticPatchSelector(in_channels=4, num_attributes=3, keep_k=2, context_mode='drop')
    units_in = patches_to_units(patches, (4, 4), 2)
    units_out = patches_to_units(neck.contextualise(patches, keep, (4, 4)), (4, 4), 2)
    assert torch.equal(units_out[0, [1, 3]], torch.zeros(2, 16))
    assert torch.equal(units_out[0, [0, 2]], units_in[0, [0, 2]])
    # only the selector has parameters: nothing unused for DDP
    assert {n.split('.')[0] for n, _ in neck.named_parameters()} == {'selector'}
    with pytest.raises(RuntimeError, match='no context token'):
        neck.context_token()


def test_context_token_official_layout_is_the_c_by_4_flattening():
    neck = _selector(context_layout='official')
    raw = neck.p2t(neck.v2p(neck.word_vectors).t())  # [C, 4]
    e = neck.context_token()
    assert torch.equal(e, raw.reshape(-1))  # index c*4 + j
    unit = _selector(context_layout='unit')
    unit.load_state_dict(neck.state_dict())
    assert torch.equal(unit.context_token(), raw.t().reshape(-1))  # index j*C + c


def test_random_context_init_has_no_word_vectors():
    neck = SemanticPatchSelector(in_channels=4, num_attributes=3, keep_k=2,
                                 context_init='random')
    assert neck.v2p is None and 'word_vectors' not in dict(neck.named_buffers())
    assert neck.context_token().requires_grad and neck.context_token().shape == (16, )


def test_word_vectors_from_npy(tmp_path):
    np.save(tmp_path / 'w.npy', np.arange(15, dtype=np.float64).reshape(3, 5))
    neck = _selector(word_vectors=str(tmp_path / 'w.npy'))
    assert neck.word_vectors.dtype == torch.float32 and neck.word_vectors[2, 4] == 14


def test_bad_input_errors(tmp_path):
    with pytest.raises(ValueError, match=r'word vectors have 4 rows but .*num_attributes=3'):
        _selector(word_vectors=np.ones((4, 5)))
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        _selector(word_vectors=str(tmp_path / 'missing.npy'))
    with pytest.raises(ValueError, match='keep_k must be an integer >= 1, got 0'):
        _selector(keep_k=0)
    neck = _selector(keep_k=4)
    with pytest.raises(ValueError, match=r'keep_k=4 is outside 1\.\.3 .*4 units'):
        neck.selector_logits(torch.zeros(1, 16, 4), (4, 4))
    with pytest.raises(ValueError, match='not divisible by unit_size=2'):
        _selector().selector_logits(torch.zeros(1, 9, 4), (3, 3))
    with pytest.raises(ValueError, match='context_mode'):
        _selector(context_mode='remove')


def test_the_context_token_is_a_component_of_its_own_with_the_necks_keys():
    from mmpretrain.registry import MODELS

    from svip_mm.models.necks import SemanticContextToken
    torch.manual_seed(0)
    neck = _selector(context_layout='official')
    token = MODELS.build(dict(type='SemanticContextToken', in_channels=4, num_attributes=3,
                              word_vectors=np.ones((3, 5)), context_layout='official'))
    assert isinstance(token, SemanticContextToken)
    token_keys = set(token.state_dict())
    assert token_keys == {'word_vectors', 'v2p.weight', 'v2p.bias', 'p2t.weight', 'p2t.bias'}
    assert token_keys <= set(neck.state_dict())
    token.load_state_dict({k: v for k, v in neck.state_dict().items() if k in token_keys})
    patches, keep = torch.randn(2, 16, 4), torch.tensor([[True, False, True, False]] * 2)
    units = patches_to_units(patches, (4, 4), 2)
    assert torch.equal(token(units, keep),
                       patches_to_units(neck.contextualise(patches, keep, (4, 4)), (4, 4), 2))
    for mode, init, keys in (('drop', 'word_vectors', set()), ('add', 'random', {'context'})):
        other = SemanticContextToken(4, 3, context_mode=mode, context_init=init)
        assert set(other.state_dict()) == keys
    with pytest.raises(ValueError, match="context_init must be one of"):
        SemanticContextToken(4, 3, context_init='zeros')


def test_the_neck_keeps_its_checkpoint_keys_and_parameter_order():
    # the names and order of checkpoints (and of optimizer state) written before the context
    # token had a file of its own
    neck = _selector()
    assert list(neck.state_dict()) == [
        'word_vectors', 'selector.0.weight', 'selector.0.bias', 'selector.2.weight',
        'selector.2.bias', 'v2p.weight', 'v2p.bias', 'p2t.weight', 'p2t.bias']
    assert [n for n, _ in neck.named_parameters()] == [
        'selector.0.weight', 'selector.0.bias', 'selector.2.weight', 'selector.2.bias',
        'v2p.weight', 'v2p.bias', 'p2t.weight', 'p2t.bias']
    random = _selector(context_init='random')  # its own parameter comes first
    assert [n for n, _ in random.named_parameters()] == [
        'context', 'selector.0.weight', 'selector.0.bias', 'selector.2.weight',
        'selector.2.bias']
    old = dict(neck.state_dict())
    fresh = _selector()
    fresh.load_state_dict(old, strict=True)
    assert torch.equal(fresh.context_token(), neck.context_token())


def test_selector_context_starts_as_the_papers_selector_and_learns_from_neighbours_only():
    torch.manual_seed(0)
    plain = _selector(unit_size=1, keep_k=3)
    torch.manual_seed(0)
    ctx = _selector(unit_size=1, keep_k=3, selector_context_layers=1)
    # built last: the paper's parameters are drawn as before, and come first
    assert [n for n, _ in ctx.named_parameters()][:8] == [
        n for n, _ in plain.named_parameters()]
    grid = (5, 5)
    patches = torch.randn(2, 25, 4)
    # zero-initialised: at the start the logits are the paper's per-unit MLP's
    assert torch.equal(ctx.selector_logits(patches, grid), plain.selector_logits(patches, grid))

    # after training steps the context convolution is non-zero (it receives gradients) ...
    opt = torch.optim.SGD(ctx.selector_context.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        ctx.selector_logits(patches, grid).square().sum().backward()
        opt.step()
    assert ctx.selector_context.convs[0].weight.abs().sum() > 0
    # ... and a unit's logit depends on its 3x3 neighbourhood, not on units further away
    base = ctx.selector_logits(patches, grid).detach()
    centre = 12  # unit (2, 2)
    for changed, should_move in ((13, True), (18, True), (14, False), (0, False)):
        moved = patches.clone()
        moved[:, changed] += 5.0
        delta = (ctx.selector_logits(moved, grid).detach() - base)[:, centre].abs().max()
        assert (delta > 1e-6) == should_move, (changed, delta)
        plain_delta = (plain.selector_logits(moved, grid) - plain.selector_logits(patches, grid))
        assert plain_delta[:, centre].abs().max() == 0  # the paper's selector: the unit alone


def test_selector_context_layers_must_be_a_non_negative_integer():
    for bad in (-1, 1.5, '2'):
        with pytest.raises(ValueError, match='selector_context_layers must be an integer >= 0'):
            _selector(selector_context_layers=bad)
    assert _selector(selector_context_layers=0).selector_context is None


def test_selector_context_refuses_units_that_do_not_fill_the_grid():
    block = UnitGridContext(channels=4, num_layers=1)
    assert block(torch.randn(2, 6, 4), (2, 3)).shape == (2, 6, 4)
    with pytest.raises(ValueError, match='expected 6 units for a 2x3 unit grid, got 8'):
        block(torch.randn(2, 8, 4), (2, 3))
    with pytest.raises(ValueError, match='num_layers must be an integer >= 1, got 0'):
        UnitGridContext(channels=4, num_layers=0)
