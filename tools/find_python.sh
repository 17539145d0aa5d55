# Sourced by dist_train.sh / dist_test.sh: sets PY to the interpreter that runs svip_mm.
# $PYTHON if set; else `python` when it can import torch (an activated venv or conda env);
# else the repository's own .venv (the README's install), so the scripts work without
# activating it.
if [ -n "${PYTHON:-}" ]; then
    PY=$PYTHON
elif command -v python >/dev/null 2>&1 && python -c 'import torch' >/dev/null 2>&1; then
    PY=python
elif [ -x "$(dirname "${BASH_SOURCE[0]}")/../.venv/bin/python" ]; then
    PY="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin/python"
else
    echo "$0: no Python with torch found: set PYTHON to the interpreter of your svip_mm" \
         "install (e.g. PYTHON=.venv/bin/python), or activate its environment" >&2
    exit 2
fi
