#!/usr/bin/env bash
# The official Java client signing its requests with ACL 2.0 credentials (`AclClientRPCHook`)
# against a `ferromq dev` whose broker has authentication and authorization on: a super user and a
# normal user with one topic allowed, created with `ferromq admin` (signed by the super user), then
# AclTest (allowed sends and pulls, refusals for a wrong secret, no signature and a denied topic).
#
#   compat/java/run-acl.sh                        # with the 4.9.8 client
#   compat/java/run-acl.sh -Drocketmq.version=5.3.3
#
# Needs cargo, a JDK 17+ and Maven; see run.sh for the logs kept on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

root_user=compat-root
root_secret="root-$RANDOM$RANDOM"
compat_work java-acl
cat >"$work/broker.conf" <<CONF
authenticationEnabled=true
authorizationEnabled=true
initAuthenticationUser={"username":"$root_user","password":"$root_secret"}
CONF
compat_start_dev java-acl --config "$work/broker.conf"

admin() {
    "$ferromq" admin -n "$namesrv" --accessKey "$root_user" --secretKey "$root_secret" "$@" >/dev/null
}
admin createUser -b "$broker" -u compat-alice -p alice-secret-1
admin createAcl -b "$broker" -s User:compat-alice -r 'Topic:AclOpen*' -a Pub,Sub -d Allow
admin createAcl -b "$broker" -s User:compat-alice -r 'Group:AclGroup*' -a Sub -d Allow

# The 4.x clients' AclClientRPCHook is in rocketmq-acl; 5.3's is inside rocketmq-client.
acl_hook=(-Pacl-hook)
for a in "$@"; do
    [[ "$a" == -Drocketmq.version=5* ]] && acl_hook=()
done
compat_run mvn -B -q -Dstyle.color=never test "${acl_hook[@]}" -Dnamesrv="$namesrv" -Dcompat.acl=true \
    -Dcompat.acl.root="$root_user:$root_secret" -Dcompat.acl.user=compat-alice:alice-secret-1 \
    -Dcompat.skipSerializationRun=true -Dtest=AclTest "$@"
