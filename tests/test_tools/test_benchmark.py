"""tools/benchmark.py end to end on the CPU with the tiny synthetic config (SVIP) and an
ImageClassifier ZSL config (TransZero: one row, no fast / reference comparison)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from repo import REPO, load_tool

ROOT = str(REPO)
TOOL = osp.join(ROOT, 'tools', 'benchmark.py')
CONFIG = osp.join(ROOT, 'configs', 'svip_vit_synthetic.py')
TINY = ['--batch-size', '2', '--infer-batch-size', '3', '--iters', '1', '--warmup', '1',
        '--repeats', '2', '--threads', '1']

benchmark = load_tool('benchmark')


def _check_phase(phase, keys, device='cpu'):
    assert set(keys) <= set(phase), set(keys) - set(phase)
    assert phase['images_per_s'] > 0 and len(phase['runs']) == 2
    assert sorted(phase['runs'])[0] <= phase['images_per_s'] <= sorted(phase['runs'])[-1]
    assert phase['peak_mem_bytes'] > 0 and phase['process_peak_mem_bytes'] > 0
    if device == 'cpu':
        assert phase['images_per_cpu_s'] > 0 and len(phase['cpu_time_runs']) == 2


def test_tool_runs_from_a_fresh_checkout_and_writes_the_documented_json(tmp_path):
    """A subprocess without PYTHONPATH, from another directory (the config's relative
    word-vector path does not resolve there: random vectors are used)."""
    out = tmp_path / 'sub' / 'bench.json'
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run(
        [sys.executable, TOOL, CONFIG, '--device', 'cpu', *TINY, '--amp', '--ablate',
         '--json', str(out), '--cfg-options', 'model.neck.keep_k=6'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'fast / reference: train' in proc.stdout
    result = json.loads(out.read_text())
    assert set(benchmark.TOP_KEYS) <= set(result), set(benchmark.TOP_KEYS) - set(result)
    assert result['device'] == 'cpu' and result['num_threads'] == 1
    assert result['batch_size'] == 2 and result['infer_batch_size'] == 3
    assert result['image_size'] == [64, 64]
    assert result['cfg_options'] == {'model.neck.keep_k': 6}
    assert any('word vectors' in note for note in result['notes'])
    assert result['mem_method'] == 'rss_vmhwm_reset'  # Linux with /proc

    rows = {row['name']: row for row in result['rows']}
    # reference first, fast last; --ablate adds one change at a time in between
    assert [row['name'] for row in result['rows']] == [
        'reference', '+fused-attn', '+sdpa-math', '+foreach-optim', 'fast']
    ref, fast = rows['reference'], rows['fast']
    assert (ref['attention'], ref['amp'], ref['compile']) == ('explicit', False, 'off')
    assert (fast['attention'], fast['amp'], fast['sdpa_backend']) == ('fused', True, 'math')
    assert fast['optimizer'] == 'AdamW (foreach)' and 'torch default' in ref['optimizer']
    for row in result['rows']:
        assert set(benchmark.ROW_KEYS) <= set(row)
        _check_phase(row['train'], benchmark.TRAIN_KEYS)
        _check_phase(row['infer'], benchmark.PHASE_KEYS)
        assert row['train']['saved_activation_bytes'] > 0
        assert row['train']['host_syncs'] is None  # CUDA only
    assert result['speedup']['train'] == pytest.approx(
        fast['train']['images_per_s'] / ref['train']['images_per_s'])
    assert result['memory_ratio']['train_saved'] == pytest.approx(
        fast['train']['saved_activation_bytes'] / ref['train']['saved_activation_bytes'])
    # bf16 autocast keeps fewer bytes for backward than fp32 explicit attention
    assert fast['train']['saved_activation_bytes'] < ref['train']['saved_activation_bytes']


def test_compile_failure_is_reported_and_the_row_still_measured(capsys):
    result = benchmark.main([CONFIG, '--device', 'cpu', *TINY, '--only', 'infer', '--compile',
                             '--compile-backend', 'no_such_backend'])
    fast = result['rows'][-1]
    assert fast['compile'].startswith('fallback:') and 'no_such_backend' in fast['compile']
    assert fast['compile_state']['requested'] and not fast['compile_state']['active']
    assert fast['train'] is None and fast['infer']['images_per_s'] > 0
    assert result['speedup']['train'] is None
    assert 'fallback:' in capsys.readouterr().out


def test_saved_activation_bytes_sees_the_explicit_attention_maps():
    """The reference keeps [B, heads, N, N] probabilities per layer and pass: more saved bytes
    than the fused path with torch's default (flash) SDPA kernel, at the same precision."""
    args = benchmark.parse_args([CONFIG, '--device', 'cpu', *TINY, '--only', 'train',
                                 '--sdpa-backend', 'default', '--optimizer-impl', 'default'])
    result = benchmark.run(args)
    ref, fast = result['rows'][0]['train'], result['rows'][-1]['train']
    model = benchmark.build_base_model(benchmark.load_config(CONFIG, None), args, [])
    bb = model.backbone
    tokens = bb.grid_size[0] * bb.grid_size[1] + 1
    probs = 2 * bb.num_layers * 2 * bb.num_heads * tokens * tokens * 4  # 2 passes, B=2, fp32
    assert ref['saved_activation_bytes'] - fast['saved_activation_bytes'] >= 0.5 * probs


def test_a_real_dataset_config_builds_without_its_files():
    """The CUB config names a pretrained checkpoint and a word-vector file that are absent."""
    args = benchmark.parse_args([osp.join(ROOT, 'configs', 'svip_vit_cub.py'), '--device', 'cpu',
                                 '--word-vector-dim', '20'])
    notes = []
    cfg = benchmark.load_config(args.config, {'model.neck.word_vectors': '/nonexistent/w.npy'})
    model = benchmark.build_base_model(cfg, args, notes)
    assert any('Pretrained init_cfg of model.backbone' in note for note in notes), notes
    assert tuple(model.neck.word_vectors.shape) == (312, 20)
    assert int(model.head.seen_mask.sum()) == 150 and model.backbone.img_size == 224
    assert int(model.head.attribute_group_ids.max()) == 27


@pytest.mark.parametrize('argv, message', [
    (['--iters', '0'], '--iters must be >= 1'),
    (['--warmup', '0'], '--warmup must be >= 1'),
    (['--sdpa-backend', 'fastest'], 'invalid choice'),
])
def test_bad_options_are_refused_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args([CONFIG, *argv])
    assert message in capsys.readouterr().err


def test_missing_or_unsuitable_config_is_refused(capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args(['configs/no_such_config.py'])
    assert 'config not found' in capsys.readouterr().err
    # the source-pretraining config: an ImageClassifier with a LinearClsHead, not a ZSL head
    config = osp.join(ROOT, 'configs', 'pretrain', 'vit_synthetic_source.py')
    args = benchmark.parse_args([config, '--device', 'cpu'])
    with pytest.raises(ValueError, match='measures ZSL models: .*ImageClassifier with '
                       'LinearClsHead .*no num_attributes'):
        benchmark.build_base_model(benchmark.load_config(config, None), args, [])


def test_an_image_classifier_config_is_measured_without_the_svip_comparison(tmp_path):
    """TransZero (ImageClassifier + VisionTransformer + TransZeroHead): one row as configured,
    training and inference measured, the comparison said not to apply; its word-vector file
    is absent from a fresh checkout's working directory (random vectors)."""
    config = osp.join(ROOT, 'configs', 'transzero', 'transzero_vit_synthetic.py')
    out = tmp_path / 'bench.json'
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run(
        [sys.executable, TOOL, config, '--device', 'cpu', *TINY, '--ablate', '--json', str(out),
         '--cfg-options', 'model.backbone.arch.num_layers=2'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'fast / reference: train' not in proc.stdout
    assert ('ImageClassifier with TransZeroHead: fast / reference comparison not applicable'
            in proc.stdout)
    assert 'note: --ablate not applied: SVIPClassifier only' in proc.stdout
    result = json.loads(out.read_text())
    assert set(benchmark.TOP_KEYS) <= set(result), set(benchmark.TOP_KEYS) - set(result)
    assert result['model_kind'] == 'image_classifier'
    assert result['model'] == 'ImageClassifier with TransZeroHead'
    assert result['comparison'].startswith('not applicable')
    assert result['image_size'] == [64, 64] and result['batch_size'] == 2
    assert any('word vectors' in note and 'model.head' in note for note in result['notes'])
    assert [row['name'] for row in result['rows']] == ['model']
    row = result['rows'][0]
    assert row['attention'] == '-' and row['optimizer'] == 'AdamW (foreach)'
    _check_phase(row['train'], benchmark.TRAIN_KEYS)
    _check_phase(row['infer'], benchmark.PHASE_KEYS)
    assert row['train']['saved_activation_bytes'] > 0
    assert all(v is None for v in result['speedup'].values())
    assert all(v is None for v in result['memory_ratio'].values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason='GPU-only assertions (CUDA memory '
                    'and host-sync counting); the CPU path is covered above')
def test_cuda_rows_report_allocator_memory_and_host_syncs():
    result = benchmark.run(benchmark.parse_args(
        [CONFIG, '--device', 'cuda', *TINY[:-2], '--amp']))
    assert result['mem_method'] == 'cuda_max_memory_allocated'
    for row in result['rows']:
        _check_phase(row['train'], benchmark.TRAIN_KEYS, 'cuda')
        assert isinstance(row['train']['host_syncs'], int)
        assert row['train']['images_per_cpu_s'] is None
