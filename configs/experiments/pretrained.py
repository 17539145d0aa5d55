# Experiment of tools/run_ablation.py: SVIP and the baseline from a ViT pretrained on the
# generated source data (configs/pretrained/), beside the from-scratch runs of the same seeds
# (whose folders the ablation experiment shares). Report: docs/pretrained.md. Fields as in
# ablation.py, and per variant:
#   attention_only: trained for 0 epochs, only its attention rollout is reported;
#   attention_probe: a 0-epoch SVIP config into which the run's trained backbone is loaded to
#     measure its attention rollout (for mmpretrain ImageClassifier variants, which have no
#     attention maps of their own; the probe's own pretrained weights are replaced, so it
#     serves the from-scratch baseline too). A key's probe holds in every experiment.
# absolute_criteria: the mean over seeds of one variant, >= least.
probe = 'configs/pretrained/svip_vit_synthetic_pretrained_attention.py'
variants = [
    dict(key='svip_pt', label='SVIP, pretrained ViT',
         config='configs/pretrained/svip_vit_synthetic_pretrained.py'),
    dict(key='baseline_pt', label='ViT + attribute head, pretrained ViT',
         config='configs/pretrained/baseline_vit_synthetic_pretrained.py', attention_probe=probe),
    dict(key='baseline_pt_time',
         label="ViT + attribute head, pretrained ViT, SVIP's time (60 epochs)",
         config='configs/pretrained/baseline_vit_synthetic_pretrained_time_matched.py',
         attention_probe=probe),
    dict(key='baseline_pt_measured_time',
         label="ViT + attribute head, pretrained ViT, SVIP's measured training time (57 epochs)",
         config='configs/pretrained/baseline_vit_synthetic_pretrained_measured_time.py',
         attention_probe=probe),
    dict(key='oracle_pt', label='SVIP, pretrained ViT, oracle selection (upper bound)',
         config='configs/pretrained/svip_vit_synthetic_pretrained_oracle.py'),
    dict(key='svip_pt_ctx',
         label='SVIP, pretrained ViT, selector with 3x3 context (beyond the paper)',
         config='configs/pretrained/svip_vit_synthetic_pretrained_context_selector.py'),
    dict(key='pretrained_attn', label='pretrained ViT before fine-tuning (attention only)',
         config=probe, attention_only=True),
    dict(key='svip', label='SVIP, from scratch', config='configs/svip_vit_synthetic.py'),
    dict(key='baseline', label='ViT + attribute head, from scratch',
         config='configs/baseline_vit_synthetic.py', attention_probe=probe),
]
criteria = [
    dict(text='SVIP beats the baseline by >= 3 H (pretrained ViT, same time: 60 epochs)',
         a='svip_pt', b='baseline_pt_time', metric='gzsl/H', least=3.0),
    dict(text='SVIP beats the baseline by >= 3 H (pretrained ViT, same epochs)', a='svip_pt',
         b='baseline_pt', metric='gzsl/H', least=3.0),
    dict(text='SVIP with the context selector beats the baseline by >= 3 H (pretrained ViT, '
         'same time: 60 epochs)', a='svip_pt_ctx', b='baseline_pt_time', metric='gzsl/H',
         least=3.0),
    dict(text='SVIP with the context selector beats the baseline by >= 3 H (pretrained ViT, '
         'same epochs)', a='svip_pt_ctx', b='baseline_pt', metric='gzsl/H', least=3.0),
    dict(text='SVIP beats the baseline by >= 3 H (pretrained ViT, same measured training time)',
         a='svip_pt', b='baseline_pt_measured_time', metric='gzsl/H', least=3.0),
    dict(text='SVIP with the context selector beats the baseline by >= 3 H (pretrained ViT, '
         'same measured training time)', a='svip_pt_ctx', b='baseline_pt_measured_time',
         metric='gzsl/H', least=3.0),
]
absolute_criteria = [
    dict(text='selector AUROC >= 0.85 (pretrained ViT)', key='svip_pt',
         metric='selection/selector_auroc', least=0.85),
    dict(text='selector AUROC >= 0.85 (pretrained ViT, context selector)', key='svip_pt_ctx',
         metric='selection/selector_auroc', least=0.85),
]
