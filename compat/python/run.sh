#!/usr/bin/env bash
# Runs the Python RocketMQ 5 client (rocketmq-python-client, gRPC) against a fresh `ferromq dev`.
#
#   compat/python/run.sh                         # build ferromq if needed, start it, run the suite, stop it
#   compat/python/run.sh -k transaction          # extra arguments go to pytest
#   FERROMQ_BIN=path/to/ferromq compat/python/run.sh # use that binary instead of building one
#   COMPAT_PENDING=1 compat/python/run.sh        # also the scenarios listed in compat/FINDINGS.md
#
# The client and pytest are installed from PyPI into compat/python/.venv on first use. One topic per
# scenario is created here with `ferromq admin` (a v5 topic's message type is a topic attribute).
# The TLS scenario trusts the certificate ferromq generated at start, fetched from the endpoint.
# Needs cargo (without FERROMQ_BIN) and python3 with venv. Exits with pytest's status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

ferromq_pid=""
test_pid=""
work=""
cleanup() {
    if [[ -n "$test_pid" ]] && kill -0 "$test_pid" 2>/dev/null; then
        kill -TERM "$test_pid" 2>/dev/null || true
        wait "$test_pid" 2>/dev/null || true
    fi
    if [[ -n "$ferromq_pid" ]] && kill -0 "$ferromq_pid" 2>/dev/null; then
        kill -TERM "$ferromq_pid" 2>/dev/null || true
        # a clean shutdown takes a few seconds at most; do not hang a CI job on one that does not end
        for _ in $(seq 300); do
            kill -0 "$ferromq_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$ferromq_pid" 2>/dev/null; then
            echo "ferromq did not stop within 30 s of SIGTERM; killing it" >&2
            kill -KILL "$ferromq_pid" 2>/dev/null || true
        fi
        wait "$ferromq_pid" 2>/dev/null || true
    fi
    if [[ -n "$work" ]]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

venv="$here/.venv"
# (re)installed when missing or when requirements.txt changed since
if ! cmp -s "$here/requirements.txt" "$venv/installed-requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/installed-requirements.txt"
fi

bin="${FERROMQ_BIN:-}"
if [[ -z "$bin" ]]; then
    (cd "$repo" && cargo build -q -p ferromq-server)
    target="${CARGO_TARGET_DIR:-target}"
    [[ "$target" == /* ]] || target="$repo/$target"
    bin="$target/debug/ferromq"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/ferromq-python-compat.XXXXXX")"
# Transaction checks every second for half messages older than 3 s, so the check-back scenario does
# not wait for the defaults (30 s / 6 s).
printf 'transactionCheckInterval=1000\ntransactionTimeOut=3000\n' >"$work/broker.conf"
mkfifo "$work/stdout"
NO_COLOR=1 "$bin" dev --data-dir "$work/data" --config "$work/broker.conf" \
    --namesrv-listen 127.0.0.1:0 --broker-listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 \
    >"$work/stdout" 2>"$work/ferromq.log" &
ferromq_pid=$!
exec 3<"$work/stdout"
# `ferromq dev ready: namesrv=ADDR broker=ADDR data=DIR grpc=ADDR`, printed once all listen
ready=""
while IFS= read -r -t 120 line <&3; do
    if [[ "$line" == "ferromq dev ready: "* ]]; then
        ready="$line"
        break
    fi
done
if [[ -z "$ready" ]]; then
    echo "ferromq dev did not report ready; its log:" >&2
    tail -n 50 "$work/ferromq.log" >&2
    exit 1
fi
cat <&3 >/dev/null &   # keep its stdout drained
exec 3<&-
namesrv="${ready#*namesrv=}"
namesrv="${namesrv%% *}"
broker="${ready#*broker=}"
broker="${broker%% *}"
grpc="${ready#*grpc=}"
grpc="${grpc%% *}"

# One queue each: this client names one queue, picked at random, in every ReceiveMessage, and
# ferromq pops only that queue (compat/FINDINGS.md PY2), so with more queues most receives would
# wait out their long poll on an empty one. py-spread has 4 for the scenario that shows it.
for spec in py-normal:NORMAL:1 py-tls:NORMAL:1 py-invisible:NORMAL:1 py-fifo:FIFO:1 \
    py-delay:DELAY:1 py-tx:TRANSACTION:1 py-push:NORMAL:1 py-spread:NORMAL:4; do
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

cd "$here"
status=0
# in the background, so that a SIGINT/SIGTERM to this script is handled at once (bash runs traps only
# between foreground commands) and the cleanup stops pytest and ferromq
FERROMQ_GRPC="$grpc" GRPC_DEFAULT_SSL_ROOTS_FILE_PATH="$work/grpc-cert.pem" \
    "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs --log-level=WARNING test_compat.py "$@" &
test_pid=$!
wait "$test_pid" || status=$?
test_pid=""
if [[ $status -ne 0 ]]; then
    mkdir -p "$here/target"
    cp "$work/ferromq.log" "$here/target/ferromq.log"
    echo "ferromq's log: compat/python/target/ferromq.log" >&2
fi
exit $status
