#!/usr/bin/env bash
# The Python RocketMQ 5 client (gRPC) signing with `Credentials(ak, sk)` against a `ferromq dev` whose
# broker has authentication and authorization on: a normal user with one topic and one group prefix
# allowed, created with `ferromq admin` (signed by the super user), then test_acl.py (allowed send
# and consume; wrong secret UNAUTHORIZED; denied topic FORBIDDEN).
#
#   compat/python/run-acl.sh
#   FERROMQ_BIN=path/to/ferromq compat/python/run-acl.sh # use that binary instead of building one
#
# Needs cargo (without FERROMQ_BIN) and python3 with venv. Exits with pytest's status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

# shellcheck source=venv.sh
source "$here/venv.sh"

compat_start_acl_dev python-acl
for topic in py-acl-open py-acl-denied; do
    compat_admin updateTopic -b "$broker" -t "$topic" -r 4 -w 4 -a +message.type=NORMAL
done
compat_acl_user py-alice alice-secret-py Topic:py-acl-open 'Group:py-acl-*'

compat_run env HOME="$work" FERROMQ_GRPC="$grpc" FERROMQ_ACL_USER=py-alice:alice-secret-py \
    "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs --log-level=WARNING test_acl.py "$@"
