# Sourced by dist_train.sh / dist_test.sh after find_python.sh. The first machine
# (NODE_RANK 0) hosts torchrun's rendezvous on PORT: when another process already listens
# there, say so in one line (torchrun would stop with a long traceback per process).
if [ "${NODE_RANK:-0}" = "0" ]; then
    "$PY" - "${PORT:-29500}" <<'PYEOF' || exit 2
import errno
import socket
import sys

port = sys.argv[1]
if not port.isdigit() or not 0 < int(port) < 65536:
    sys.exit(f'error: PORT={port}: expected a TCP port number 1-65535')
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the rendezvous store does
try:
    sock.bind(('', int(port)))
except OSError as err:
    if err.errno != errno.EADDRINUSE:
        raise
    sys.exit(f'error: port {port} is in use on this machine (another distributed job?); '
             'choose a free one with PORT=..., e.g. PORT=29501')
finally:
    sock.close()
PYEOF
fi
