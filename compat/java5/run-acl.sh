#!/usr/bin/env bash
# The official RocketMQ 5 Java client (gRPC) signing with StaticSessionCredentialsProvider against a
# `ferromq dev` whose broker has authentication and authorization on: a normal user with one topic
# and one group prefix allowed, created with `ferromq admin` (signed by the super user), then
# AclTest (allowed send and consume; wrong secret UNAUTHORIZED; denied topic FORBIDDEN).
#
#   compat/java5/run-acl.sh
#
# Needs cargo, a JDK 17+ and Maven; see run.sh for the logs kept on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

compat_start_acl_dev java5-acl
for topic in AclOpen5 AclDenied5; do
    compat_admin updateTopic -b "$broker" -t "$topic" -r 4 -w 4 -a +message.type=NORMAL
done
compat_acl_user compat5-alice alice-secret-5 Topic:AclOpen5 'Group:AclGroup5-*'

compat_run mvn -B -q -Dstyle.color=never test -Dgrpc="$grpc" -Dnamesrv="$namesrv" -Dcompat.acl=true \
    -Dcompat.acl.user=compat5-alice:alice-secret-5 -Dtest=AclTest "$@"
