#!/usr/bin/env bash
# Apache RocketMQ (name server + one broker) on free loopback ports, as the reference the compatibility
# suites and `ferromq bench` are checked against. Fetched from Maven Central by `pom.xml` beside this
# file (`mvn dependency:copy-dependencies` into compat/apache/target/lib; nothing is committed).
#
# Run:
#   compat/apache/start.sh                 # start, print the ready line, stop on Ctrl-C / SIGTERM
#   compat/apache/start.sh COMMAND...      # start, run COMMAND with COMPAT_NAMESRV and COMPAT_BROKER
#                                          # set (e.g. compat/go/run.sh), stop, exit with its status
#   compat/apache/start.sh mqadmin ARGS... # as above, `mqadmin` being Apache's own (rocketmq-tools)
# Sourced (the caller owns cleanup: call apache_stop, e.g. from its EXIT trap):
#   apache_start        # sets namesrv, broker, apache_work, apache_namesrv_pid, apache_broker_pid
#   apache_mqadmin ARGS # Apache's mqadmin with the fetched class path
#   apache_stop         # SIGTERM both (broker first), wait for them, remove apache_work
#
# Environment: APACHE_ROCKETMQ_VERSION (default: the pom's), APACHE_JAVA_HOME (default: JAVA_HOME or
# the `java` on PATH; JDK 17 works), APACHE_HEAP (default "-Xms256m -Xmx512m"), APACHE_KEEP_LOGS=DIR
# copies both servers' logs there when they stop. The broker's log: $apache_work/home/logs/rocketmqlogs.

apache_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
apache_work=""
apache_namesrv_pid=""
apache_broker_pid=""

# The class path of the name server and broker (also holds rocketmq-tools, for mqadmin), fetched once.
apache_classpath() {
    local lib="$apache_here/target/lib"
    local version_args=()
    if [[ -n "${APACHE_ROCKETMQ_VERSION:-}" ]]; then
        version_args=("-Dapache.rocketmq.version=$APACHE_ROCKETMQ_VERSION")
        lib="$apache_here/target/lib-$APACHE_ROCKETMQ_VERSION"
    fi
    if [[ ! -f "$lib/.complete" ]]; then
        (cd "$apache_here" && mvn -B -q -Dstyle.color=never "${version_args[@]}" \
            dependency:copy-dependencies -DoutputDirectory="$lib") >&2 || return 1
        touch "$lib/.complete"
    fi
    echo "$lib/*"
}

apache_java() {
    if [[ -n "${APACHE_JAVA_HOME:-}" ]]; then
        echo "$APACHE_JAVA_HOME/bin/java"
    elif [[ -n "${JAVA_HOME:-}" ]]; then
        echo "$JAVA_HOME/bin/java"
    else
        echo java
    fi
}

# A free loopback port P such that P-2 and P+1 are free too: the broker listens on P, its "fast"
# remoting server on P-2 and its HA service on P+1 (derived by BrokerStartup, not configurable apart).
# Each candidate comes from binding port 0; all three are checked by binding them.
apache_free_port() {
    local need_neighbours=$1
    python3 - "$need_neighbours" <<'EOF'
import socket, sys
need = sys.argv[1] == "1"
def bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    if not need or (port > 1026 and port < 65535 and bindable(port - 2) and bindable(port + 1) and bindable(port)):
        print(port)
        sys.exit(0)
sys.exit("no free port with free neighbours")
EOF
}

# Waits until FILE holds a line containing TEXT, or PID died, or the deadline (seconds) passed.
apache_wait_line() {
    local file=$1 text=$2 pid=$3 deadline=$((SECONDS + $4))
    while ((SECONDS < deadline)); do
        if grep -qF -- "$text" "$file" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.2
    done
    return 1
}

apache_mqadmin() {
    local cp
    cp="$(apache_classpath)" || return 1
    ROCKETMQ_HOME="${apache_work:-$apache_here}" "$(apache_java)" -Xms64m -Xmx256m \
        -Duser.home="${apache_work:-${TMPDIR:-/tmp}}/home" \
        -cp "$cp" org.apache.rocketmq.tools.command.MQAdminStartup "$@"
}

# Starts `NAME MAIN-CLASS -c CONF` in the background; its pid in REPLY.
apache_spawn() {
    local name=$1 main=$2 conf=$3 cp=$4
    # shellcheck disable=SC2086 # APACHE_HEAP is a list of JVM options
    ROCKETMQ_HOME="$apache_work" "$(apache_java)" -server ${APACHE_HEAP:--Xms256m -Xmx512m} \
        -XX:MaxDirectMemorySize=512m -XX:+UseG1GC \
        --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
        --add-opens java.base/java.lang=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED \
        -Duser.home="$apache_work/home" -Drocketmq.home.dir="$apache_work" \
        -cp "$cp" "$main" -c "$conf" >"$apache_work/$name.out" 2>&1 &
    REPLY=$!
}

apache_start() {
    local cp ns_port broker_port
    cp="$(apache_classpath)" || return 1
    apache_work="$(mktemp -d "${TMPDIR:-/tmp}/apache-rocketmq.XXXXXX")"
    mkdir -p "$apache_work/home" "$apache_work/store"

    ns_port="$(apache_free_port 0)" || return 1
    cat >"$apache_work/namesrv.conf" <<EOF
listenPort=$ns_port
bindAddress=127.0.0.1
kvConfigPath=$apache_work/namesrv/kvConfig.json
EOF
    apache_spawn namesrv org.apache.rocketmq.namesrv.NamesrvStartup "$apache_work/namesrv.conf" "$cp"
    apache_namesrv_pid=$REPLY
    if ! apache_wait_line "$apache_work/namesrv.out" "boot success" "$apache_namesrv_pid" 120; then
        echo "Apache name server did not start:" >&2
        tail -n 40 "$apache_work/namesrv.out" >&2
        return 1
    fi
    namesrv="127.0.0.1:$ns_port"

    broker_port="$(apache_free_port 1)" || return 1
    # What the defaults would get wrong on a small shared machine, and what the suites need: small
    # files, a temp store, loopback only, filters, trace topic and auto-created topics; the disk
    # checks at 95 % (their maximum) so a busy disk does not turn the broker read-only mid-run.
    cat >"$apache_work/broker.conf" <<EOF
brokerClusterName=DefaultCluster
brokerName=broker-a
brokerId=0
brokerRole=ASYNC_MASTER
flushDiskType=ASYNC_FLUSH
namesrvAddr=$namesrv
brokerIP1=127.0.0.1
listenPort=$broker_port
bindAddress=127.0.0.1
storePathRootDir=$apache_work/store
storePathCommitLog=$apache_work/store/commitlog
mappedFileSizeCommitLog=134217728
autoCreateTopicEnable=true
autoCreateSubscriptionGroup=true
enablePropertyFilter=true
traceTopicEnable=true
diskMaxUsedSpaceRatio=95
EOF
    apache_spawn broker org.apache.rocketmq.broker.BrokerStartup "$apache_work/broker.conf" "$cp"
    apache_broker_pid=$REPLY
    if ! apache_wait_line "$apache_work/broker.out" "boot success" "$apache_broker_pid" 180; then
        echo "Apache broker did not start:" >&2
        tail -n 40 "$apache_work/broker.out" >&2
        return 1
    fi
    broker="127.0.0.1:$broker_port"

    # Ready when the name server routes the broker: clients find it only from then on.
    local deadline=$((SECONDS + 120))
    until apache_mqadmin clusterList -n "$namesrv" 2>/dev/null | grep -qF -- "$broker"; do
        if ((SECONDS >= deadline)) || ! kill -0 "$apache_broker_pid" 2>/dev/null; then
            echo "Apache broker never appeared in the name server's cluster list" >&2
            tail -n 40 "$apache_work/broker.out" >&2
            return 1
        fi
        sleep 0.5
    done
}

# Stops a JVM with SIGTERM (its shutdown hook flushes and closes the store), SIGKILL after 60 s.
apache_stop_pid() {
    local pid=$1 name=$2
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 600); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "Apache $name did not stop within 60 s of SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

apache_stop() {
    apache_stop_pid "$apache_broker_pid" broker
    apache_broker_pid=""
    apache_stop_pid "$apache_namesrv_pid" "name server"
    apache_namesrv_pid=""
    if [[ -n "$apache_work" ]]; then
        if [[ -n "${APACHE_KEEP_LOGS:-}" ]]; then
            mkdir -p "$APACHE_KEEP_LOGS"
            cp -r "$apache_work"/*.out "$apache_work/home/logs" "$APACHE_KEEP_LOGS/" 2>/dev/null || true
        fi
        rm -rf "$apache_work"
        apache_work=""
    fi
}

# Run rather than sourced: start, then run the command or wait for a signal, then stop.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    trap apache_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [[ "${1:-}" == mqadmin ]]; then
        shift
        apache_start
        apache_mqadmin "$@" -n "$namesrv"
        exit
    fi
    apache_start
    echo "apache rocketmq ready: namesrv=$namesrv broker=$broker data=$apache_work"
    if (($# == 0)); then
        # wait in the background so a signal is handled at once
        sleep infinity &
        wait $! || true
        exit 0
    fi
    status=0
    COMPAT_NAMESRV="$namesrv" COMPAT_BROKER="$broker" "$@" &
    wait $! || status=$?
    exit $status
fi
