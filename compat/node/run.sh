#!/usr/bin/env bash
# Runs the Node.js RocketMQ 5 client (rocketmq-client-nodejs, gRPC) against a fresh `ferromq dev`.
#
#   compat/node/run.sh                           # build ferromq if needed, start it, run the suite, stop it
#   compat/node/run.sh --test-name-pattern=FIFO  # extra arguments go to `node --test`
#   FERROMQ_BIN=path/to/ferromq compat/node/run.sh # use that binary instead of building one
#
# The client is installed from npm into compat/node/node_modules (`npm ci`, package-lock.json) on
# first use. One topic per scenario is created here with `ferromq admin` (a v5 topic's message type
# is a topic attribute). The TLS scenario trusts the certificate ferromq generated at start, fetched
# from the endpoint. Needs cargo (without FERROMQ_BIN), node 18+ and npm. Exits with node's status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

# shellcheck source=install.sh
source "$here/install.sh"

compat_work node
# Transaction checks every second for half messages older than 3 s, so the check-back scenario does
# not wait for the defaults (30 s / 6 s).
printf 'transactionCheckInterval=1000\ntransactionTimeOut=3000\n' >"$work/broker.conf"
compat_start_dev node --config "$work/broker.conf"
bin="$ferromq"

# Four queues each: receives are served from every queue of the topic on the broker, whichever
# queue the client names (compat/FINDINGS.md PY2).
for spec in node-normal:NORMAL:4 node-tls:NORMAL:4 node-invisible:NORMAL:4 node-fifo:FIFO:4 \
    node-delay:DELAY:4 node-tx:TRANSACTION:4 node-digest:NORMAL:4 node-push:NORMAL:4 \
    node-push-retry:NORMAL:4 node-push-fifo:FIFO:4; do
    IFS=: read -r topic type queues <<<"$spec"
    "$bin" admin updateTopic -n "$namesrv" -b "$broker" -t "$topic" -r "$queues" -w "$queues" \
        -a "+message.type=$type" >/dev/null
done

# The retry scenario's group: two deliveries, then the dead-letter queue.
"$bin" admin updateSubGroup -n "$namesrv" -b "$broker" -g node-push-retry -r 1 >/dev/null
# The FIFO push scenario's group consumes orderly (a v5 consumer learns it from the settings).
"$bin" admin updateSubGroup -n "$namesrv" -b "$broker" -g node-push-fifo -o true >/dev/null

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

# HOME: the client's push consume service ignores the logger it is given and writes its own log
# file under the home folder; it belongs in the run's temp folder. --test-force-exit: that file
# logger's flush timer is never stopped, so a process that used a PushConsumer never exits by
# itself (compat/FINDINGS.md N3); the suite ends when its last scenario has.
compat_run env HOME="$work" FERROMQ_GRPC="$grpc" GRPC_DEFAULT_SSL_ROOTS_FILE_PATH="$work/grpc-cert.pem" \
    node --test --test-force-exit --test-reporter=spec "$@" compat.test.js
