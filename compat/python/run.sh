#!/usr/bin/env bash
# Runs the Python RocketMQ 5 client (rocketmq-python-client, gRPC) against a fresh `ferromq dev`.
#
#   compat/python/run.sh                         # build ferromq if needed, start it, run the suite, stop it
#   compat/python/run.sh -k transaction          # extra arguments go to pytest
#   FERROMQ_BIN=path/to/ferromq compat/python/run.sh # use that binary instead of building one
#
# The client and pytest are installed from PyPI into compat/python/.venv on first use. One topic per
# scenario is created here with `ferromq admin` (a v5 topic's message type is a topic attribute).
# The TLS scenario trusts the certificate ferromq generated at start, fetched from the endpoint.
# Needs cargo (without FERROMQ_BIN) and python3 with venv. Exits with pytest's status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

# shellcheck source=venv.sh
source "$here/venv.sh"

compat_work python
# Transaction checks every second for half messages older than 3 s, so the check-back scenario does
# not wait for the defaults (30 s / 6 s).
printf 'transactionCheckInterval=1000\ntransactionTimeOut=3000\n' >"$work/broker.conf"
compat_start_dev python --config "$work/broker.conf"
bin="$ferromq"

# Four queues each: receives are served from every queue of the topic on the broker, whichever
# queue the client names (compat/FINDINGS.md PY2).
for spec in py-normal:NORMAL:4 py-tls:NORMAL:4 py-invisible:NORMAL:4 py-fifo:FIFO:4 \
    py-delay:DELAY:4 py-tx:TRANSACTION:4 py-push:NORMAL:4 py-spread:NORMAL:4; do
    IFS=: read -r topic type queues <<<"$spec"
    "$bin" admin updateTopic -n "$namesrv" -b "$broker" -t "$topic" -r "$queues" -w "$queues" \
        -a "+message.type=$type" >/dev/null
done

# gRPC's TLS checks the server's certificate against these roots; ferromq's self-signed one names
# 127.0.0.1, so trusting it makes the TLS scenario a fully verified connection.
"$venv/bin/python" - "$grpc" >"$work/grpc-cert.pem" <<'EOF'
import ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
print(ssl.get_server_certificate((host, int(port))))
EOF

# HOME: the client writes its log file under the home folder; it belongs in the run's temp folder.
compat_run env HOME="$work" FERROMQ_GRPC="$grpc" GRPC_DEFAULT_SSL_ROOTS_FILE_PATH="$work/grpc-cert.pem" \
    "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs --log-level=WARNING test_compat.py "$@"
