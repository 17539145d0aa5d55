#!/usr/bin/env bash
# Distributed training with torchrun (python -m torch.distributed.run), one process per GPU.
#
#   tools/dist_train.sh CONFIG GPUS [tools/train.py arguments]
#   e.g. tools/dist_train.sh configs/svip_vit_synthetic.py 2 --work-dir work_dirs/x
#
# Several machines: run it on each with the same MASTER_ADDR and PORT and its own NODE_RANK:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 tools/dist_train.sh CONFIG 8   # first machine
#   NNODES=2 NODE_RANK=1 MASTER_ADDR=10.0.0.1 tools/dist_train.sh CONFIG 8   # second machine
# Environment: NNODES (default 1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
# PYTHON (the interpreter; default: `python` if it has torch, else the repository's .venv).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [tools/train.py arguments]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$TOOLS/find_python.sh"
source "$TOOLS/check_port.sh"
exec "$PY" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$GPUS" \
    "$TOOLS/train.py" "$CONFIG" --launcher pytorch "$@"
