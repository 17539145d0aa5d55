#!/usr/bin/env bash
# Training on a Slurm cluster: srun starts one task per GPU; MMEngine's slurm launcher reads
# the rank, world size and master address from Slurm's environment.
#
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG [tools/train.py arguments]
#   e.g. GPUS=16 tools/slurm_train.sh gpu svip_cub configs/svip_vit_cub.py --work-dir work_dirs/cub
#
# Environment: GPUS (total tasks, default 8), GPUS_PER_NODE (default 8), CPUS_PER_TASK
# (default 5), PORT (master port, default 29500), SRUN_ARGS (extra srun options, e.g.
# "--qos=high"), PYTHON (the interpreter, default python). Not tested in this repository's
# suite (no Slurm here).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [tools/train.py arguments]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export MASTER_PORT=${PORT:-29500}
# SRUN_ARGS is split into words on purpose
# shellcheck disable=SC2086
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "${PYTHON:-python}" -u "$TOOLS/train.py" "$CONFIG" --launcher slurm "$@"
