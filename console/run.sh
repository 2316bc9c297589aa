#!/usr/bin/env bash
# Clicks through ferromq's web console in a headless Chromium against a fresh `ferromq dev`, with
# real traffic from the Node.js RocketMQ 5 client, and writes a screenshot of each page to
# ci-artifacts/console/<page>.png.
#
#   console/run.sh                             # build ferromq if needed, start it, run, stop it
#   console/run.sh --test-name-pattern=topics  # extra arguments go to `node --test`
#   FERROMQ_BIN=path/to/ferromq console/run.sh # use that binary instead of building one
#   CHROMIUM=path/to/chromium console/run.sh   # another Chromium than /usr/bin/chromium
#
# playwright-core and the client are installed from npm into console/node_modules (`npm ci`,
# package-lock.json) on first use; playwright-core drives the system's Chromium, it downloads no
# browser. Needs cargo (without FERROMQ_BIN), node 18+, npm and Chromium. Exits with node's status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

# The compat runners' start, stop and cleanup (compat_ferromq_bin, compat_work, compat_run).
# shellcheck source=../compat/dev.sh
source "$repo/compat/dev.sh"

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
    echo "no Chromium at $chromium (apt-get install -y chromium, or set CHROMIUM)" >&2
    exit 1
fi

if ! cmp -s "$here/package-lock.json" "$here/node_modules/.installed-package-lock.json"; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$here/node_modules/.installed-package-lock.json"
fi

# As compat_start_dev, but also reading the console's address (http=) from the ready line.
start_dev() {
    local bin
    bin="$(compat_ferromq_bin)"
    compat_work console
    ferromq="$bin"
    mkfifo "$work/stdout"
    NO_COLOR=1 "$bin" dev --data-dir "$work/data" \
        --namesrv-listen 127.0.0.1:0 --broker-listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 \
        >"$work/stdout" 2>"$work/ferromq.log" &
    compat_dev_pid=$!
    exec 3<"$work/stdout"
    local line ready=""
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
    namesrv="$(compat_ready_field "$ready" namesrv)"
    broker="$(compat_ready_field "$ready" broker)"
    grpc="$(compat_ready_field "$ready" grpc)"
    http="$(compat_ready_field "$ready" http)"
}

start_dev

# The consumer groups of the scenarios: one the console moves to the start of its topic before it
# consumes, one that dead-letters a message at its first failure (retryMaxTimes 0).
"$ferromq" admin updateSubGroup -n "$namesrv" -b "$broker" -g console-group >/dev/null
"$ferromq" admin updateSubGroup -n "$namesrv" -b "$broker" -g console-dlq -r 0 >/dev/null
# The dead-letter scenario's topic (the v5 producer does not create topics).
"$ferromq" admin updateTopic -n "$namesrv" -b "$broker" -t console-poison -r 1 -w 1 >/dev/null

shots="$repo/ci-artifacts/console"
rm -rf "$shots"
mkdir -p "$shots"

# HOME: the client writes its own log file under the home folder; it belongs in the temp folder.
compat_run env HOME="$work" FERROMQ_HTTP="$http" FERROMQ_GRPC="$grpc" CHROMIUM="$chromium" \
    SCREENSHOTS="$shots" node --test --test-force-exit --test-concurrency=1 --test-reporter=spec "$@" console.test.js
