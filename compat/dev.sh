# Shared by the compatibility runners (compat/*/run.sh): start a `ferromq dev` on free loopback
# ports, run a suite against it, stop everything on exit or on a signal. Sourced, not run.
#
# A runner sets `here` (its folder) and `repo`, sources this file, then:
#   compat_start_dev NAME [extra `ferromq dev` arguments]   # sets namesrv, broker, grpc, http, work
#   compat_run SUITE-COMMAND...                             # runs it, keeps ferromq's log on failure
#
# FERROMQ_BIN names the binary to use; without it the debug build of ferromq-server is built.

compat_dev_pid=""
compat_suite_pid=""
work=""

compat_cleanup() {
    if [[ -n "$compat_suite_pid" ]] && kill -0 "$compat_suite_pid" 2>/dev/null; then
        kill -TERM "$compat_suite_pid" 2>/dev/null || true
        wait "$compat_suite_pid" 2>/dev/null || true
    fi
    if [[ -n "$compat_dev_pid" ]] && kill -0 "$compat_dev_pid" 2>/dev/null; then
        kill -TERM "$compat_dev_pid" 2>/dev/null || true
        # a clean shutdown takes well under a second; do not hang a CI job on one that does not end
        for _ in $(seq 300); do
            kill -0 "$compat_dev_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$compat_dev_pid" 2>/dev/null; then
            echo "ferromq did not stop within 30 s of SIGTERM; killing it" >&2
            kill -KILL "$compat_dev_pid" 2>/dev/null || true
        fi
        wait "$compat_dev_pid" 2>/dev/null || true
    fi
    if [[ -n "$work" ]]; then
        rm -rf "$work"
    fi
    # a runner started with --apache (compat_start_apache) stops Apache RocketMQ instead
    if declare -F apache_stop >/dev/null; then
        apache_stop
    fi
}
trap compat_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The ferromq binary: FERROMQ_BIN, or the workspace's debug build (built if needed).
compat_ferromq_bin() {
    if [[ -n "${FERROMQ_BIN:-}" ]]; then
        echo "$FERROMQ_BIN"
        return
    fi
    (cd "$repo" && cargo build -q -p ferromq-server)
    local target="${CARGO_TARGET_DIR:-target}"
    [[ "$target" == /* ]] || target="$repo/$target"
    echo "$target/debug/ferromq"
}

# The value of KEY= in a ready line.
compat_ready_field() {
    local value="${1#*"$2"=}"
    echo "${value%% *}"
}

# compat_start_dev NAME [ARGS...]: `ferromq dev` in a temp folder named after NAME, on free ports;
# returns once it printed its ready line, with namesrv, broker, grpc and http set from it. `$work` is the
# temp folder (removed on exit), for files the caller passes in ARGS (e.g. --config "$work/x.conf"):
# create it first with compat_work NAME.
compat_work() {
    if [[ -z "$work" ]]; then
        work="$(mktemp -d "${TMPDIR:-/tmp}/ferromq-$1-compat.XXXXXX")"
    fi
}

compat_start_dev() {
    local name=$1
    shift
    local bin
    bin="$(compat_ferromq_bin)"
    compat_work "$name"
    ferromq="$bin"
    mkfifo "$work/stdout"
    NO_COLOR=1 "$bin" dev --data-dir "$work/data" \
        --namesrv-listen 127.0.0.1:0 --broker-listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 "$@" \
        >"$work/stdout" 2>"$work/ferromq.log" &
    compat_dev_pid=$!
    exec 3<"$work/stdout"
    # `ferromq dev ready: namesrv=ADDR broker=ADDR data=DIR grpc=ADDR http=ADDR ...`, printed once all listen
    local line ready=""
    while IFS= read -r -t 120 line <&3; do
        if [[ "$line" == "ferromq dev ready: "* ]]; then
            ready="$line"
            break
        fi
    done
    if [[ -z "$ready" ]]; then
        echo "ferromq dev did not report ready; its log:" >&2
        tail -n 50 "$work/ferromq.log" >&2
        exit 1
    fi
    cat <&3 >/dev/null &   # keep its stdout drained
    exec 3<&-
    namesrv="$(compat_ready_field "$ready" namesrv)"
    broker="$(compat_ready_field "$ready" broker)"
    grpc="$(compat_ready_field "$ready" grpc)"
    http="$(compat_ready_field "$ready" http)"
}

# compat_start_acl_dev NAME: as compat_start_dev NAME, with authentication and authorization on and
# a super user `NAME-root` with a random secret (`$root_user`, `$root_secret`), which compat_admin
# signs with.
compat_start_acl_dev() {
    local name=$1
    root_user="$name-root"
    root_secret="root-$RANDOM$RANDOM"
    compat_work "$name"
    cat >"$work/broker.conf" <<CONF
authenticationEnabled=true
authorizationEnabled=true
initAuthenticationUser={"username":"$root_user","password":"$root_secret"}
CONF
    compat_start_dev "$name" --config "$work/broker.conf"
}

# compat_admin ARGS...: `ferromq admin` against the started dev, signed as its super user.
compat_admin() {
    "$ferromq" admin -n "$namesrv" --accessKey "$root_user" --secretKey "$root_secret" "$@" >/dev/null
}

# compat_acl_user USER SECRET TOPICS GROUPS: a normal user allowed to publish and subscribe the
# topic resource TOPICS (`Topic:x` or `Topic:x*`) with the group resource GROUPS.
compat_acl_user() {
    compat_admin createUser -b "$broker" -u "$1" -p "$2"
    compat_admin createAcl -b "$broker" -s "User:$1" -r "$3" -a Pub,Sub -d Allow
    compat_admin createAcl -b "$broker" -s "User:$1" -r "$4" -a Sub -d Allow
}

# compat_start_target NAME "$@": the runners' common first step. With `--apache` as the first
# argument (or COMPAT_TARGET=apache) starts Apache RocketMQ (compat/apache/start.sh) instead of
# `ferromq dev` and sets namesrv and broker from it; COMPAT_NAMESRV (and COMPAT_BROKER) name a cluster
# that is already running. Sets `args` to the remaining arguments and `compat_target` (ferromq or apache).
compat_start_target() {
    local name=$1
    shift
    local target="${COMPAT_TARGET:-ferromq}"
    if [[ "${1:-}" == --apache ]]; then
        target=apache
        shift
    fi
    args=("$@")
    compat_target=$target
    namesrv="${COMPAT_NAMESRV:-}"
    broker="${COMPAT_BROKER:-}"
    if [[ -n "$namesrv" ]]; then
        return
    fi
    case "$target" in
        ferromq) compat_start_dev "$name" ;;
        apache)
            # shellcheck source=apache/start.sh
            source "$repo/compat/apache/start.sh"
            apache_start || exit 1
            compat_apache_log="$apache_work/home/logs/rocketmqlogs"
            ;;
        *)
            echo "COMPAT_TARGET must be ferromq or apache, not $target" >&2
            exit 2
            ;;
    esac
}

# compat_run COMMAND...: runs the suite from the runner's folder and exits with its status. In the
# background, so that a SIGINT/SIGTERM to the runner is handled at once (bash runs traps only between
# foreground commands) and the cleanup stops the suite and ferromq. On failure ferromq's log is kept
# in the runner's target/ folder.
compat_run() {
    cd "$here"
    local status=0
    "$@" &
    compat_suite_pid=$!
    wait "$compat_suite_pid" || status=$?
    compat_suite_pid=""
    if [[ $status -ne 0 && -n "$work" && -f "$work/ferromq.log" ]]; then
        mkdir -p "$here/target"
        cp "$work/ferromq.log" "$here/target/ferromq.log"
        echo "ferromq's log: ${here#"$repo"/}/target/ferromq.log" >&2
    fi
    if [[ $status -ne 0 && -n "${compat_apache_log:-}" && -d "$compat_apache_log" ]]; then
        mkdir -p "$here/target"
        rm -rf "$here/target/apache-logs"
        cp -r "$compat_apache_log" "$here/target/apache-logs"
        echo "Apache RocketMQ's logs: ${here#"$repo"/}/target/apache-logs" >&2
    fi
    exit $status
}
