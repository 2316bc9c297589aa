#!/usr/bin/env bash
# The official Java client over TLS (`-Dtls.enable=true`): the send-and-push scenario of the Java
# compatibility suite against a `ferromq dev --tls MODE` (name server and broker with self-signed
# certificates, which the client's default `tls.test.mode.enable=true` accepts).
#
#   compat/java/run-tls.sh                          # permissive: TLS and plaintext on one port
#   COMPAT_TLS_MODE=enforcing compat/java/run-tls.sh  # plaintext refused: proves the client used TLS
#   compat/java/run-tls.sh -Dtest=QueryTest         # extra arguments go to Maven
#
# Needs cargo, a JDK 17+ and Maven; see run.sh for the logs kept on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

compat_start_dev java-tls --tls "${COMPAT_TLS_MODE:-permissive}"
compat_run mvn -B -q -Dstyle.color=never test -Dnamesrv="$namesrv" -Dtls.enable=true \
    -Dcompat.skipSerializationRun=true -Dtest=SendAndPushTest "$@"
