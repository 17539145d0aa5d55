# Difficulty check: the ViT + attribute head baseline on the clean-background variant of the
# synthetic data (same classes, split, objects and masks; no clutter), generated on first use
# into its own folder.
_base_ = ['../baseline_vit_synthetic.py']

data_root = 'data/synthetic_zsl_clean'
train_dataloader = dict(dataset=dict(data_root=data_root, clutter=False))
test_dataloader = dict(dataset=dict(data_root=data_root, clutter=False))
