#!/usr/bin/env bash
# Runs the Java compatibility suite (official RocketMQ Java client) against a fresh `ferromq dev`.
#
#   compat/java/run.sh                      # build ferromq if needed, start it, run the suite, stop it
#   compat/java/run.sh --apache             # the same suite against Apache RocketMQ (compat/apache/start.sh)
#   compat/java/run.sh -Drocketmq.version=5.3.3   # with the 5.x remoting client instead of 4.9.8
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

compat_start_target java "$@"
set -- "${args[@]}"
compat_run mvn -B -q -Dstyle.color=never test -Dnamesrv="$namesrv" "$@"
