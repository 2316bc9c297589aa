#!/usr/bin/env bash
# Runs the RocketMQ 5 compatibility suite (the official v5 Java client, over gRPC) against a fresh
# `ferromq dev`.
#
#   compat/java5/run.sh                      # build ferromq if needed, start it, run the suite, stop it
#   compat/java5/run.sh -Dtest=ProducerTest  # extra arguments go to Maven
#   FERROMQ_BIN=path/to/ferromq compat/java5/run.sh # use that binary instead of building one
#   compat/java5/run.sh -Dcompat.excludedGroups=    # also the tests tagged `pending`
#
# The suite's topics are created here with `ferromq admin` (a v5 topic's message type is a topic
# attribute). Needs cargo, a JDK 17+ and Maven. Exits with Maven's status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

ferromq_pid=""
mvn_pid=""
work=""
cleanup() {
    if [[ -n "$mvn_pid" ]] && kill -0 "$mvn_pid" 2>/dev/null; then
        kill -TERM "$mvn_pid" 2>/dev/null || true
        wait "$mvn_pid" 2>/dev/null || true
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

bin="${FERROMQ_BIN:-}"
if [[ -z "$bin" ]]; then
    (cd "$repo" && cargo build -q -p ferromq-server)
    target="${CARGO_TARGET_DIR:-target}"
    [[ "$target" == /* ]] || target="$repo/$target"
    bin="$target/debug/ferromq"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/ferromq-java5-compat.XXXXXX")"
# Transaction checks every second for half messages older than 3 s, so the checker test does not
# wait for the defaults (30 s / 6 s).
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

for spec in compat5-normal:NORMAL compat5-fifo:FIFO compat5-delay:DELAY compat5-tx:TRANSACTION; do
    "$bin" admin updateTopic -n "$namesrv" -b "$broker" -t "${spec%%:*}" -r 4 -w 4 \
        -a "+message.type=${spec#*:}" >/dev/null
done

cd "$here"
status=0
# in the background, so that a SIGINT/SIGTERM to this script is handled at once (bash runs traps only
# between foreground commands) and the cleanup stops Maven and ferromq
mvn -B -q -Dstyle.color=never test -Dgrpc="$grpc" -Dnamesrv="$namesrv" "$@" &
mvn_pid=$!
wait "$mvn_pid" || status=$?
mvn_pid=""
if [[ $status -ne 0 ]]; then
    mkdir -p "$here/target"
    cp "$work/ferromq.log" "$here/target/ferromq.log"
    echo "ferromq's log: compat/java5/target/ferromq.log; the client's: compat/java5/target/client-logs/" >&2
fi
exit $status
