#!/usr/bin/env bash
# Runs the RocketMQ 5 compatibility suite (the official v5 Java client, over gRPC) against a fresh
# `ferromq dev`.
#
#   compat/java5/run.sh                      # build ferromq if needed, start it, run the suite, stop it
#   compat/java5/run.sh -Dtest=ProducerTest  # extra arguments go to Maven
#   FERROMQ_BIN=path/to/ferromq compat/java5/run.sh # use that binary instead of building one
#   compat/java5/run.sh -Dcompat.excludedGroups=    # also the tests tagged `pending`
#
# The suite's topics are created here with `ferromq admin` (a v5 topic's message type is a topic
# attribute). Needs cargo, a JDK 17+ and Maven. Exits with Maven's status. On failure: ferromq's
# log in compat/java5/target/ferromq.log, the client's in compat/java5/target/client-logs/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"

compat_work java5
# Transaction checks every second for half messages older than 3 s, so the checker test does not
# wait for the defaults (30 s / 6 s).
printf 'transactionCheckInterval=1000\ntransactionTimeOut=3000\n' >"$work/broker.conf"
compat_start_dev java5 --config "$work/broker.conf"

for spec in compat5-normal:NORMAL compat5-fifo:FIFO compat5-delay:DELAY compat5-tx:TRANSACTION; do
    "$ferromq" admin updateTopic -n "$namesrv" -b "$broker" -t "${spec%%:*}" -r 4 -w 4 \
        -a "+message.type=${spec#*:}" >/dev/null
done

compat_run mvn -B -q -Dstyle.color=never test -Dgrpc="$grpc" -Dnamesrv="$namesrv" "$@"
