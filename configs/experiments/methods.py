# Experiment of tools/run_ablation.py: the ZSL methods svip_mm implements, under one protocol,
# on the synthetic data, from scratch and from the pretrained source ViT. Report:
# docs/methods.md; what it holds: docs/results.md, "Methods under one protocol".
#
# The protocol, the same for every method: the config's own schedule, seeds 0-2, the last
# epoch's checkpoint (no epoch picked on the test set); GZSL at gamma 0 and at a gamma chosen
# without the test set (calibrate = True: tools/calibrate.py on train_loc / val_loc after each
# run, svip_mm.experiments.calibrated_run.calibrate_run); the test-tuned figures (oracle /
# official H) only beside them, labelled, as the compared papers report.
#
# How each schedule was chosen (nothing here was tuned on these runs):
# - SVIP and the baseline: as docs/results.md says. From scratch, the default job's schedule
#   (30 epochs, the head alone for 1 epoch, then everything at 5e-4), the same for both; from
#   the pretrained ViT, phase-1 length and ViT learning rate tuned on seed 0 only over a grid
#   declared before any run (configs/pretrained/README.md).
# - APN and TransZero: the released hyperparameters (loss weights, head sizes: the CUB
#   settings, cited in their configs) mapped onto the synthetic job's schedule (the baseline's:
#   same ViT, data, epochs and learning rates, in both regimes), not tuned here.
#
# Fields as in ablation.py, and:
#   calibrate: every run is calibrated after it finishes, and the report is the methods table;
#   reference: the variant every other one is paired with, per regime (regime -> key);
#   regime (per variant): the report's table it belongs to (its section title);
#   transductive (per variant): the method reads the unseen classes' attributes in training
#     (TransZero's self-calibration loss and cross-entropy over all classes); marked in the
#     table.
# The from-scratch svip / baseline and the pretrained svip_pt / baseline_pt keys are those of
# the ablation and pretrained experiments with the same configs: their runs are shared.
calibrate = True
scratch = 'from scratch'
pretrained = 'from the pretrained source ViT'
reference = {scratch: 'svip', pretrained: 'svip_pt'}
variants = [
    dict(key='svip', label='SVIP', config='configs/svip_vit_synthetic.py', regime=scratch),
    dict(key='baseline', label='ViT + attribute head', config='configs/baseline_vit_synthetic.py',
         regime=scratch),
    dict(key='apn', label='APN', config='configs/apn/apn_vit_synthetic.py', regime=scratch),
    dict(key='transzero', label='TransZero',
         config='configs/transzero/transzero_vit_synthetic.py', regime=scratch,
         transductive=True),
    dict(key='transzero_inductive', label='TransZero, inductive (no unseen attributes)',
         config='configs/transzero/transzero_vit_synthetic_inductive.py', regime=scratch),
    dict(key='svip_pt', label='SVIP, pretrained ViT',
         config='configs/pretrained/svip_vit_synthetic_pretrained.py', regime=pretrained),
    dict(key='baseline_pt', label='ViT + attribute head, pretrained ViT',
         config='configs/pretrained/baseline_vit_synthetic_pretrained.py', regime=pretrained),
    dict(key='apn_pt', label='APN, pretrained ViT',
         config='configs/apn/apn_vit_synthetic_pretrained.py', regime=pretrained),
    dict(key='transzero_pt', label='TransZero, pretrained ViT',
         config='configs/transzero/transzero_vit_synthetic_pretrained.py', regime=pretrained,
         transductive=True),
]
# no pass / fail thresholds: the report gives the paired differences and whether each lies
# inside the seed spread
criteria = []
