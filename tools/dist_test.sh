#!/usr/bin/env bash
# Distributed testing with torchrun (python -m torch.distributed.run), one process per GPU.
#
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py arguments]
#   e.g. tools/dist_test.sh configs/svip_vit_synthetic.py work_dirs/x/epoch_30.pth 2 --out m.json
#
# Without GPUs, GPUS processes run on the CPU with the gloo backend.
# Environment: NNODES (default 1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
# PYTHON (the interpreter; default: `python` if it has torch, else the repository's .venv).
# See tools/dist_train.sh for several machines.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py arguments]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$TOOLS/find_python.sh"
source "$TOOLS/check_port.sh"
exec "$PY" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$GPUS" \
    "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
