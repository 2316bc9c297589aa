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

root_user=compat5-root
root_secret="root-$RANDOM$RANDOM"
compat_work java5-acl
cat >"$work/broker.conf" <<CONF
authenticationEnabled=true
authorizationEnabled=true
initAuthenticationUser={"username":"$root_user","password":"$root_secret"}
CONF
compat_start_dev java5-acl --config "$work/broker.conf"

admin() {
    "$ferromq" admin -n "$namesrv" --accessKey "$root_user" --secretKey "$root_secret" "$@" >/dev/null
}
for topic in AclOpen5 AclDenied5; do
    admin updateTopic -b "$broker" -t "$topic" -r 4 -w 4 -a +message.type=NORMAL
done
admin createUser -b "$broker" -u compat5-alice -p alice-secret-5
admin createAcl -b "$broker" -s User:compat5-alice -r Topic:AclOpen5 -a Pub,Sub -d Allow
admin createAcl -b "$broker" -s User:compat5-alice -r 'Group:AclGroup5-*' -a Sub -d Allow

compat_run mvn -B -q -Dstyle.color=never test -Dgrpc="$grpc" -Dnamesrv="$namesrv" -Dcompat.acl=true \
    -Dcompat.acl.user=compat5-alice:alice-secret-5 -Dtest=AclTest "$@"
