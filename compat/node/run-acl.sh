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

# shellcheck source=install.sh
source "$here/install.sh"

compat_start_acl_dev node-acl
for topic in node-acl-open node-acl-denied; do
    compat_admin updateTopic -b "$broker" -t "$topic" -r 4 -w 4 -a +message.type=NORMAL
done
compat_acl_user node-alice alice-secret-node Topic:node-acl-open 'Group:node-acl-*'

compat_run env HOME="$work" FERROMQ_GRPC="$grpc" FERROMQ_ACL_USER=node-alice:alice-secret-node \
    node --test --test-force-exit --test-reporter=spec "$@" acl.test.js
