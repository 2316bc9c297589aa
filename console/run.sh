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

# The compat runners' start, stop and cleanup (compat_start_dev sets namesrv, broker, grpc, http).
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

compat_start_dev console

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
