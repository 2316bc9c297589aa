#!/usr/bin/env bash
# Runs the POP suite of the official Java 5.x remoting client against a fresh `ferromq dev`.
#
#   compat/javapop/run.sh                      # build ferromq if needed, start it, run the suite, stop it
#   COMPAT_NAMESRV=host:port compat/javapop/run.sh   # run against a cluster that is already running
#   FERROMQ_BIN=path/to/ferromq compat/javapop/run.sh # use that binary instead of building one
#
# Needs cargo, a JDK 17+ and Maven. Exits with Maven's status. On failure: ferromq's log in
# compat/javapop/target/ferromq.log, the client's in compat/javapop/target/client-logs/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

namesrv="${COMPAT_NAMESRV:-}"
if [[ -z "$namesrv" ]]; then
    compat_start_dev javapop
fi
compat_run mvn -B -q -Dstyle.color=never test -Dnamesrv="$namesrv" "$@"
