# Experiment of tools/run_ablation.py: how hard the synthetic data is for the baseline (the
# ViT + attribute head): clean background, clutter, clutter with the background patches masked
# by the ground truth. Report: docs/difficulty.md. Fields as in ablation.py.
variants = [
    dict(key='clean', label='ViT + head, clean background',
         config='configs/ablation/baseline_vit_synthetic_clean.py'),
    dict(key='baseline', label='ViT + head, clutter', config='configs/baseline_vit_synthetic.py'),
    dict(key='oracle_mask', label='ViT + head, clutter, oracle masking',
         config='configs/ablation/baseline_vit_synthetic_oracle_mask.py'),
]
criteria = [
    dict(text='clutter costs >= 5 H (clean - clutter)', a='clean', b='baseline',
         metric='gzsl/H', least=5.0),
    dict(text='oracle masking wins >= 10 H back (oracle - clutter)', a='oracle_mask',
         b='baseline', metric='gzsl/H', least=10.0),
]
