#!/usr/bin/env bash
# Runs the Go client's compatibility tests (github.com/apache/rocketmq-client-go/v2) against a fresh
# `ferromq dev`.
#
#   compat/go/run.sh                          # build ferromq if needed, start it, run the tests, stop it
#   compat/go/run.sh -run TestOrderly -v      # extra arguments go to `go test`
#   COMPAT_NAMESRV=host:port COMPAT_BROKER=host:port compat/go/run.sh  # a cluster already running
#   FERROMQ_BIN=path/to/ferromq compat/go/run.sh  # use that binary instead of building one
#
# Needs cargo and Go (modules from the Go module proxy). Exits with `go test`'s status.
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
        # a clean shutdown takes well under a second; do not hang a CI job on one that does not end
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

namesrv="${COMPAT_NAMESRV:-}"
broker="${COMPAT_BROKER:-}"
if [[ -z "$namesrv" ]]; then
    bin="${FERROMQ_BIN:-}"
    if [[ -z "$bin" ]]; then
        (cd "$repo" && cargo build -q -p ferromq-server)
        target="${CARGO_TARGET_DIR:-target}"
        [[ "$target" == /* ]] || target="$repo/$target"
        bin="$target/debug/ferromq"
    fi
    work="$(mktemp -d "${TMPDIR:-/tmp}/ferromq-go-compat.XXXXXX")"
    mkfifo "$work/stdout"
    NO_COLOR=1 "$bin" dev --data-dir "$work/data" --namesrv-listen 127.0.0.1:0 --broker-listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 \
        >"$work/stdout" 2>"$work/ferromq.log" &
    ferromq_pid=$!
    exec 3<"$work/stdout"
    # `ferromq dev ready: namesrv=ADDR broker=ADDR data=DIR`, printed once both listen
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
fi

cd "$here"
status=0
# in the background, so that a SIGINT/SIGTERM to this script is handled at once (bash runs traps only
# between foreground commands) and the cleanup stops the tests and ferromq
# (broadcasting consumers keep their offsets in a local folder: inside target/, not the home folder)
mkdir -p "$here/target"
env COMPAT_NAMESRV="$namesrv" COMPAT_BROKER="$broker" \
    "rocketmq.client.localOffsetStoreDir=$here/target/local-offsets" \
    go test -count=1 -timeout 10m "$@" ./... &
test_pid=$!
wait "$test_pid" || status=$?
test_pid=""
if [[ $status -ne 0 && -n "$work" ]]; then
    mkdir -p "$here/target"
    cp "$work/ferromq.log" "$here/target/ferromq.log"
    echo "ferromq's log: compat/go/target/ferromq.log" >&2
fi
exit $status
