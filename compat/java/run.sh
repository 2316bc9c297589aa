#!/usr/bin/env bash
# Runs the Java compatibility suite (official RocketMQ Java client) against a fresh `ferromq dev`.
#
#   compat/java/run.sh                      # build ferromq if needed, start it, run the suite, stop it
#   compat/java/run.sh -Dtest=OrderlyTest   # extra arguments go to Maven
#   COMPAT_NAMESRV=host:port compat/java/run.sh   # run against a cluster that is already running
#   FERROMQ_BIN=path/to/ferromq compat/java/run.sh # use that binary instead of building one
#   compat/java/run.sh -Dcompat.excludedGroups=    # also the tests tagged `pending` (compat/FINDINGS.md)
#
# Needs cargo, a JDK 17+ and Maven. Exits with Maven's status. On failure: ferromq's log in
# compat/java/target/ferromq.log, the client's in compat/java/target/client-logs/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

namesrv="${COMPAT_NAMESRV:-}"
if [[ -z "$namesrv" ]]; then
    compat_start_dev java
fi
compat_run mvn -B -q -Dstyle.color=never test -Dnamesrv="$namesrv" "$@"
