#!/usr/bin/env bash
# The Node.js RocketMQ 5 client (gRPC) signing with `sessionCredentials` against a `ferromq dev`
# whose broker has authentication and authorization on: a normal user with one topic and one group
# prefix allowed, created with `ferromq admin` (signed by the super user), then acl.test.js
# (allowed send and consume; wrong secret UNAUTHORIZED; denied topic FORBIDDEN).
#
#   compat/node/run-acl.sh
#   FERROMQ_BIN=path/to/ferromq compat/node/run-acl.sh # use that binary instead of building one
#
# Needs cargo (without FERROMQ_BIN), node 18+ and npm. Exits with node's status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

if ! cmp -s "$here/package-lock.json" "$here/node_modules/.installed-package-lock.json"; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$here/node_modules/.installed-package-lock.json"
fi

root_user=node-root
root_secret="root-$RANDOM$RANDOM"
compat_work node-acl
cat >"$work/broker.conf" <<CONF
authenticationEnabled=true
authorizationEnabled=true
initAuthenticationUser={"username":"$root_user","password":"$root_secret"}
CONF
compat_start_dev node-acl --config "$work/broker.conf"

admin() {
    "$ferromq" admin -n "$namesrv" --accessKey "$root_user" --secretKey "$root_secret" "$@" >/dev/null
}
for topic in node-acl-open node-acl-denied; do
    admin updateTopic -b "$broker" -t "$topic" -r 4 -w 4 -a +message.type=NORMAL
done
admin createUser -b "$broker" -u node-alice -p alice-secret-node
admin createAcl -b "$broker" -s User:node-alice -r Topic:node-acl-open -a Pub,Sub -d Allow
admin createAcl -b "$broker" -s User:node-alice -r 'Group:node-acl-*' -a Sub -d Allow

compat_run env HOME="$work" FERROMQ_GRPC="$grpc" FERROMQ_ACL_USER=node-alice:alice-secret-node \
    node --test --test-force-exit --test-reporter=spec "$@" acl.test.js
