#!/usr/bin/env bash
# Runs Apache's mqadmin (rocketmq-tools) sub-commands against a fresh `ferromq dev`.
#
#   compat/mqadmin/run.sh                           # build ferromq if needed, start it, run the suite, stop it
#   compat/mqadmin/run.sh --apache          # the same commands against Apache RocketMQ (compat/apache/start.sh)
#   compat/mqadmin/run.sh -Dtest=TopicCommandsTest  # extra arguments go to Maven
#   COMPAT_NAMESRV=host:port compat/mqadmin/run.sh  # run against a cluster that is already running
#   FERROMQ_BIN=path/to/ferromq compat/mqadmin/run.sh  # use that binary instead of building one
#
# Needs cargo, a JDK 17+ and Maven. Exits with Maven's status. On failure: ferromq's log in
# compat/mqadmin/target/ferromq.log, what each command printed in
# compat/mqadmin/target/surefire-reports/*-output.txt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

compat_start_target mqadmin "$@"
set -- "${args[@]}"
if [[ $compat_target == apache ]]; then
    # the scenarios of what ferromq does on purpose unlike Apache (compat/FINDINGS.md)
    set -- -Dcompat.excludedGroups=ferromq-only "$@"
fi
compat_run mvn -B -q -Dstyle.color=never test -Dnamesrv="$namesrv" "$@"
