# The pretrained ViT before any fine-tuning: configs/pretrained/svip_vit_synthetic_pretrained.py
# trained for 0 epochs, so the test only measures the attention rollout of the loaded backbone
# (the attention row of the patch-selection table; the head and the selector are untrained and
# their figures mean nothing). tools/run_ablation.py also loads the fine-tuned ViT of a
# baseline run into it (model.backbone.init_cfg.checkpoint=...) to measure that ViT's attention.
_base_ = ['./svip_vit_synthetic_pretrained.py']

train_cfg = dict(max_epochs=0)
default_hooks = dict(visualization=dict(enable=False))
