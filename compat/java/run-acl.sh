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

compat_start_acl_dev java-acl
compat_acl_user compat-alice alice-secret-1 'Topic:AclOpen*' 'Group:AclGroup*'

# The 4.x clients' AclClientRPCHook is in rocketmq-acl; 5.3's is inside rocketmq-client.
acl_hook=(-Pacl-hook)
for a in "$@"; do
    [[ "$a" == -Drocketmq.version=5* ]] && acl_hook=()
done
compat_run mvn -B -q -Dstyle.color=never test "${acl_hook[@]}" -Dnamesrv="$namesrv" -Dcompat.acl=true \
    -Dcompat.acl.root="$root_user:$root_secret" -Dcompat.acl.user=compat-alice:alice-secret-1 \
    -Dcompat.skipSerializationRun=true -Dtest=AclTest "$@"
