# Experiment of tools/run_ablation.py: SVIP's parts on the synthetic data, from scratch. Each
# variant differs from SVIP in one thing; the same data, schedule and epochs, except one
# baseline given SVIP's wall time instead of its epochs. Report: docs/ablation.md.
#
# variants: key (also the run's folder under --work-dir, so experiments share runs), label
# (in the report), config; criteria: the difference of the means over seeds, a - b >= least.
variants = [
    dict(key='svip', label='SVIP', config='configs/svip_vit_synthetic.py'),
    dict(key='baseline', label='ViT + attribute head (no selection)',
         config='configs/baseline_vit_synthetic.py'),
    dict(key='baseline_time', label="ViT + attribute head, SVIP's time budget (60 epochs)",
         config='configs/ablation/baseline_vit_synthetic_time_matched.py'),
    dict(key='drop', label='SVIP, drop instead of add',
         config='configs/ablation/svip_vit_synthetic_drop.py'),
    dict(key='random_init', label='SVIP, random context token',
         config='configs/ablation/svip_vit_synthetic_random_init.py'),
    dict(key='oracle', label='SVIP, oracle selection (upper bound)',
         config='configs/ablation/svip_vit_synthetic_oracle.py'),
]
criteria = [
    dict(text='SVIP beats the baseline by >= 3 H (same epochs)', a='svip', b='baseline',
         metric='gzsl/H', least=3.0),
    dict(text='SVIP beats the baseline by >= 3 H (same time)', a='svip', b='baseline_time',
         metric='gzsl/H', least=3.0),
]
