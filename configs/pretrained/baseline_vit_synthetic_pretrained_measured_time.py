# The pretrained-ViT baseline given the training time of pretrained SVIP with the context selector
# (configs/pretrained/svip_vit_synthetic_pretrained_context_selector.py, 4 + 26 epochs), by the
# rule of docs/synthetic_experiments.md fixed before these runs: timing runs of both configs
# alone on the machine, one thread, seed 0, and tools/match_epochs.py on their logs (the
# timings: configs/pretrained/README.md).
_base_ = ['./baseline_vit_synthetic_pretrained.py']

train_cfg = dict(by_epoch=True, max_epochs=57)
