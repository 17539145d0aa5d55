# The pretrained-ViT baseline given the training time of pretrained SVIP with the context selector
# (configs/pretrained/svip_vit_synthetic_pretrained_context_selector.py, 4 + 26 epochs), by the
# rule of docs/synthetic_experiments.md fixed before these runs: timing runs of both configs
# alone on the machine, one thread, seed 0; tools/match_epochs.py on their logs (2026-12-03):
# SVIP 13.65 s/epoch frozen, 14.81 s/epoch after, 439.7 s; this baseline 7.57 / 7.78 s/epoch,
# so 1 + round((439.7 - 7.57) / 7.78) = 57 epochs (443.4 s).
_base_ = ['./baseline_vit_synthetic_pretrained.py']

train_cfg = dict(by_epoch=True, max_epochs=57)
