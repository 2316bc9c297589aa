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

venv="$here/.venv"
if ! cmp -s "$here/requirements.txt" "$venv/installed-requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/installed-requirements.txt"
fi

root_user=py-root
root_secret="root-$RANDOM$RANDOM"
compat_work python-acl
cat >"$work/broker.conf" <<CONF
authenticationEnabled=true
authorizationEnabled=true
initAuthenticationUser={"username":"$root_user","password":"$root_secret"}
CONF
compat_start_dev python-acl --config "$work/broker.conf"

admin() {
    "$ferromq" admin -n "$namesrv" --accessKey "$root_user" --secretKey "$root_secret" "$@" >/dev/null
}
for topic in py-acl-open py-acl-denied; do
    admin updateTopic -b "$broker" -t "$topic" -r 4 -w 4 -a +message.type=NORMAL
done
admin createUser -b "$broker" -u py-alice -p alice-secret-py
admin createAcl -b "$broker" -s User:py-alice -r Topic:py-acl-open -a Pub,Sub -d Allow
admin createAcl -b "$broker" -s User:py-alice -r 'Group:py-acl-*' -a Sub -d Allow

compat_run env HOME="$work" FERROMQ_GRPC="$grpc" FERROMQ_ACL_USER=py-alice:alice-secret-py \
    "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs --log-level=WARNING test_acl.py "$@"
