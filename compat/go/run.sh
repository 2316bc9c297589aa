#!/usr/bin/env bash
# Runs the Go client's compatibility tests (github.com/apache/rocketmq-client-go/v2) against a fresh
# `ferromq dev`.
#
#   compat/go/run.sh                          # build ferromq if needed, start it, run the tests, stop it
#   compat/go/run.sh --apache                 # the same tests against Apache RocketMQ (compat/apache/start.sh)
#   compat/go/run.sh -run TestOrderly -v      # extra arguments go to `go test`
#   COMPAT_NAMESRV=host:port COMPAT_BROKER=host:port compat/go/run.sh  # a cluster already running
#   FERROMQ_BIN=path/to/ferromq compat/go/run.sh  # use that binary instead of building one
#
# Needs cargo and Go (modules from the Go module proxy). Exits with `go test`'s status. On
# failure: ferromq's log in compat/go/target/ferromq.log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

compat_start_target go "$@"
set -- "${args[@]}"
# Broadcasting consumers keep their offsets in a local folder: inside target/, not the home folder.
mkdir -p "$here/target"
compat_run env COMPAT_NAMESRV="$namesrv" COMPAT_BROKER="$broker" \
    "rocketmq.client.localOffsetStoreDir=$here/target/local-offsets" \
    go test -count=1 -timeout 10m "$@" ./...
