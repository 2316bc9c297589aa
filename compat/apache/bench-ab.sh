#!/usr/bin/env bash
# A/B benchmark: `ferromq bench produce` and `ferromq bench e2e` against a fresh `ferromq dev` and a
# fresh Apache RocketMQ (compat/apache/start.sh) for every run, interleaved, ROUNDS rounds; prints
# the median of each figure, and each server's CPU time per message (user + system, from
# /proc/PID/stat before and after the bench process ran, divided by the messages sent).
#
#   compat/apache/bench-ab.sh                       # 3 rounds × {produce, e2e} × {sync, async}
#   ROUNDS=1 SECONDS_PER_RUN=5 compat/apache/bench-ab.sh
#   FERROMQ_BIN=target/release/ferromq compat/apache/bench-ab.sh
#
# Settings: SIZE (1024), PRODUCERS (64), MODES ("sync async"), BENCHES ("produce e2e"), QUEUES (8),
# SECONDS_PER_RUN (10), WARMUP_SECONDS (5: an unmeasured `bench produce` of the same shape on the fresh
# server first, so a cold JVM's JIT and first page faults are not what is measured; 0 for none). Without FERROMQ_BIN the release build of ferromq-server is built. Each run's
# JSON report is kept in OUT (default compat/apache/target/bench-ab-<time>/).
#
# ferromq dev is one process (name server + broker); Apache's are two JVMs: the table gives the
# broker's CPU and the name server's apart, and their sum. A run's CPU includes everything the
# server did while the bench ran: topic creation, the run itself and (e2e) the drain.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

rounds="${ROUNDS:-3}"
size="${SIZE:-1024}"
producers="${PRODUCERS:-64}"
modes="${MODES:-sync async}"
benches="${BENCHES:-produce e2e}"
queues="${QUEUES:-8}"
seconds="${SECONDS_PER_RUN:-10}"
warmup="${WARMUP_SECONDS:-5}"
out="${OUT:-$here/target/bench-ab-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"

if [[ -z "${FERROMQ_BIN:-}" ]]; then
    (cd "$repo" && cargo build -q --release -p ferromq-server)
    target_dir="${CARGO_TARGET_DIR:-target}"
    [[ "$target_dir" == /* ]] || target_dir="$repo/$target_dir"
    FERROMQ_BIN="$target_dir/release/ferromq"
fi
export FERROMQ_BIN

# shellcheck source=../dev.sh
source "$repo/compat/dev.sh"
# shellcheck source=start.sh
source "$here/start.sh"

clk_tck="$(getconf CLK_TCK)"

# User + system CPU ticks of a process so far (fields 14 and 15 of /proc/PID/stat; the command name
# in field 2 may hold spaces, so count from the closing parenthesis).
cpu_ticks() {
    local stat
    stat="$(<"/proc/$1/stat")"
    stat="${stat##*) }"
    # shellcheck disable=SC2206 # split on spaces on purpose
    local f=($stat)
    # after ")": field 3 is f[0], so utime (14) is f[11] and stime (15) is f[12]
    echo $((f[11] + f[12]))
}

# The figure KEY (a number) of a bench's JSON report, e.g. `json_field FILE msgs_per_s`.
json_field() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d
for k in sys.argv[2].split("."): v=(v or {}).get(k)
print(v if v is not None else "nan")' "$1" "$2"
}

# run_one TARGET BENCH MODE ROUND: a fresh server, one bench, the server stopped; appends a line
# `target bench mode round msgs_per_s p99_us sent errors lost server_cpu_s namesrv_cpu_s` to results.
run_one() {
    local target=$1 bench=$2 mode=$3 round=$4
    local server_pid namesrv_pid="" report="$out/$target-$bench-$mode-r$round.json"
    if [[ $target == ferromq ]]; then
        compat_start_dev bench
        server_pid=$compat_dev_pid
    else
        apache_start
        server_pid=$apache_broker_pid
        namesrv_pid=$apache_namesrv_pid
    fi
    if [[ $warmup != 0 ]]; then
        "$FERROMQ_BIN" bench produce -n "$namesrv" --topic "BenchAB" --size "$size" \
            --producers "$producers" --queues "$queues" --mode "$mode" --seconds "$warmup" \
            --output json --quiet >"$out/$target-$bench-$mode-r$round.warmup.json" 2>/dev/null || true
    fi
    local before ns_before=0 after ns_after=0
    before="$(cpu_ticks "$server_pid")"
    [[ -z "$namesrv_pid" ]] || ns_before="$(cpu_ticks "$namesrv_pid")"
    local status=0
    "$FERROMQ_BIN" bench "$bench" -n "$namesrv" --topic "BenchAB" --size "$size" \
        --producers "$producers" --queues "$queues" --mode "$mode" --seconds "$seconds" \
        --output json --quiet >"$report" 2>"$out/$target-$bench-$mode-r$round.log" || status=$?
    after="$(cpu_ticks "$server_pid")"
    [[ -z "$namesrv_pid" ]] || ns_after="$(cpu_ticks "$namesrv_pid")"
    if [[ $target == ferromq ]]; then
        compat_cleanup
        work=""
        compat_dev_pid=""
    else
        apache_stop
    fi
    if [[ $status -ne 0 ]]; then
        echo "bench $bench --mode $mode against $target failed (exit $status); see $out" >&2
        echo "$target $bench $mode $round nan nan 0 nan nan nan nan" >>"$out/results"
        return
    fi
    local cpu ns_cpu
    cpu="$(python3 -c "print(($after - $before) / $clk_tck)")"
    ns_cpu="$(python3 -c "print(($ns_after - $ns_before) / $clk_tck)")"
    local p99_key=p99_us
    echo "$target $bench $mode $round $(json_field "$report" msgs_per_s) $(json_field "$report" $p99_key)" \
        "$(json_field "$report" sent) $(json_field "$report" errors) $(json_field "$report" lost)" \
        "$cpu $ns_cpu" >>"$out/results"
    echo "  $target $bench $mode round $round: $(tail -n 1 "$out/results" | cut -d' ' -f5-)" >&2
}

echo "bench A/B: $rounds rounds, ${size} B, $producers producers, modes: $modes, benches: $benches," \
    "$seconds s each after a ${warmup} s warm-up; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
: >"$out/results"
for round in $(seq "$rounds"); do
    # alternate who goes first, so a drift in the machine's load does not favour one side
    if ((round % 2)); then order="ferromq apache"; else order="apache ferromq"; fi
    for bench in $benches; do
        for mode in $modes; do
            for target in $order; do
                run_one "$target" "$bench" "$mode" "$round"
            done
        done
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Medians over the rounds; CPU per message = server CPU ÷ messages sent (e2e: each was also consumed).
python3 - "$out/results" <<'EOF' | tee "$out/table.md"
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    t, bench, mode, rnd, rate, p99, sent, errors, lost, cpu, ns = line.split()
    rows[(bench, mode, t)].append(dict(rate=float(rate), p99=float(p99), sent=float(sent),
        errors=float(errors), lost=float(lost), cpu=float(cpu), ns=float(ns)))
def med(rs, f):
    vals = [f(r) for r in rs if r["sent"] > 0]
    return statistics.median(vals) if vals else float("nan")
print("| bench | mode | server | msgs/s | p99 ms | errors | lost | broker CPU µs/msg | name server CPU µs/msg | total CPU µs/msg | runs |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for (bench, mode, t), rs in sorted(rows.items()):
    b = med(rs, lambda r: r["cpu"] / r["sent"] * 1e6)
    n = med(rs, lambda r: r["ns"] / r["sent"] * 1e6)
    tot = med(rs, lambda r: (r["cpu"] + r["ns"]) / r["sent"] * 1e6)
    ns_cell = f"{n:.1f}" if t == "apache" else "(in broker)"
    print(f"| {bench} | {mode} | {t} | {med(rs, lambda r: r['rate']):.0f} | {med(rs, lambda r: r['p99']) / 1000:.1f} "
          f"| {med(rs, lambda r: r['errors']):.0f} | {med(rs, lambda r: r['lost']):.0f} | {b:.1f} | {ns_cell} | {tot:.1f} "
          f"| {sum(1 for r in rs if r['sent'] > 0)}/{len(rs)} |")
EOF
echo "reports: $out" >&2
