#!/usr/bin/env bash
# Runs the Node.js RocketMQ 5 client (rocketmq-client-nodejs, gRPC) against a fresh `ferromq dev`.
#
#   compat/node/run.sh                           # build ferromq if needed, start it, run the suite, stop it
#   compat/node/run.sh --test-name-pattern=FIFO  # extra arguments go to `node --test`
#   FERROMQ_BIN=path/to/ferromq compat/node/run.sh # use that binary instead of building one
#   COMPAT_PENDING=1 compat/node/run.sh          # also the scenarios listed in compat/FINDINGS.md
#
# The client is installed from npm into compat/node/node_modules (`npm ci`, package-lock.json) on
# first use. One topic per scenario is created here with `ferromq admin` (a v5 topic's message type
# is a topic attribute). The TLS scenario trusts the certificate ferromq generated at start, fetched
# from the endpoint. Needs cargo (without FERROMQ_BIN), node 18+ and npm. Exits with node's status.
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

# (re)installed when missing or when package-lock.json changed since
if ! cmp -s "$here/package-lock.json" "$here/node_modules/.installed-package-lock.json"; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$here/node_modules/.installed-package-lock.json"
fi

bin="${FERROMQ_BIN:-}"
if [[ -z "$bin" ]]; then
    (cd "$repo" && cargo build -q -p ferromq-server)
    target="${CARGO_TARGET_DIR:-target}"
    [[ "$target" == /* ]] || target="$repo/$target"
    bin="$target/debug/ferromq"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/ferromq-node-compat.XXXXXX")"
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

# One queue each: the client names one queue in every ReceiveMessage and ferromq pops only that
# queue (compat/FINDINGS.md PY2), so with more queues receives would wait out their long poll on
# empty ones.
for spec in node-normal:NORMAL:1 node-tls:NORMAL:1 node-invisible:NORMAL:1 node-fifo:FIFO:1 \
    node-delay:DELAY:1 node-tx:TRANSACTION:1 node-digest:NORMAL:1; do
    IFS=: read -r topic type queues <<<"$spec"
    "$bin" admin updateTopic -n "$namesrv" -b "$broker" -t "$topic" -r "$queues" -w "$queues" \
        -a "+message.type=$type" >/dev/null
done

# gRPC's TLS checks the server's certificate against these roots; ferromq's self-signed one names
# 127.0.0.1, so trusting it makes the TLS scenario a fully verified connection.
node - "$grpc" >"$work/grpc-cert.pem" <<'EOF'
const tls = require('node:tls');
const addr = process.argv[2];
const i = addr.lastIndexOf(':');
const s = tls.connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)), rejectUnauthorized: false }, () => {
  const der = s.getPeerCertificate().raw.toString('base64');
  console.log(`-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----`);
  s.end();
});
EOF

cd "$here"
status=0
# in the background, so that a SIGINT/SIGTERM to this script is handled at once (bash runs traps only
# between foreground commands) and the cleanup stops node and ferromq
FERROMQ_GRPC="$grpc" GRPC_DEFAULT_SSL_ROOTS_FILE_PATH="$work/grpc-cert.pem" \
    node --test --test-reporter=spec "$@" compat.test.js &
test_pid=$!
wait "$test_pid" || status=$?
test_pid=""
if [[ $status -ne 0 ]]; then
    mkdir -p "$here/target"
    cp "$work/ferromq.log" "$here/target/ferromq.log"
    echo "ferromq's log: compat/node/target/ferromq.log" >&2
fi
exit $status
