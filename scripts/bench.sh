#!/usr/bin/env bash
# bench.sh - run the W-suite of ../shared/perf/WORKLOADS.md against Quiver
# and, side by side in the same run, against NATS JetStream (driven by the
# shared jsbench tool), interleaved per repetition: JS, ours, JS, ours, …
# Then print, per workload and metric, each system's median (min–max) and
# the ratio Quiver / JetStream, and write the results: every run and row as
# JSON lines (results.jsonl), the table with the environment (summary.md),
# and the raw outputs. Not run by CI; about 13 minutes with the defaults.
#
# Servers (all on 127.0.0.1, random ports, fresh temp stores):
#   quiver serve (ASYNC_FLUSH, gRPC proxy for W7) and nats-server (default sync_interval 2 min)
#   quiver serve --sync-flush    and nats-server (sync_interval: always)    for W5
#   the backlog (W3, W3b, W6a), W6b and W8 phases each start fresh servers.
#
# Environment (defaults in brackets):
#   OUT_DIR   [$TMPDIR/quiver-bench/<UTC time>]  where results go
#   REPS      [3]   repetitions of the workloads in WORKLOADS
#   WORKLOADS ["W1 W2 W2p W4 W5:W1 W5:W2 W5:W2p W5:W4"]
#   REPS_W3   [1]   repetitions of the backlog phase; W3_MSGS [1000000]; SKIP_W3=1
#   W6_TOPICS [2000] W6_MSGS [200000] W6_DUR [120s] (FULL_W6=1: 10000, 1000000, 420s); SKIP_W6=1
#   W6_CONF: broker.conf settings, "key=value key=value", for W6b's broker, which then runs
#   as `quiver namesrv` + `quiver broker -c`. Consume-queue segments are preallocated
#   (mappedFileSizeConsumeQueue, 6,000,000 bytes per queue: 10,000 topics x 4 queues take
#   240 GB), so the full W6b needs e.g. W6_CONF="mappedFileSizeConsumeQueue=60000";
#   W6b is skipped when the store would count the disk over 74 % full (see disk_ratio)
#   SKIP_W8=1 (W8, Quiver only: needs timer messages in the broker); W8_MSGS [1000000]
#   SKIP_W7=1 (W7, Quiver only: W1 and W2p over Remoting and through the gRPC proxy,
#   interleaved, REPS times each, after the repeated workloads, on the same async server)
#   SKIP_JS=1 (Quiver only)   NATS_SERVER (a nats-server binary; else installed
#   with `go install` at NATS_SERVER_VERSION [v2.15.2])   PERF [../shared/perf]
#   KEEP=1 (keep the temp dir with stores and logs)  COMMIT (what to record as
#   Quiver's commit when ROOT is not its git checkout)
set -euo pipefail
CMDLINE="$(env | grep -E '^(REPS|REPS_W3|W3_MSGS|WORKLOADS|FULL_W6|W6_TOPICS|W6_MSGS|W6_DUR|W6_CONF|W8_MSGS|SKIP_[A-Z0-9]+)=' | sort | sed "s/=\(.*\)/='\1'/" | tr '\n' ' ')bash scripts/bench.sh"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PERF="${PERF:-$ROOT/../shared/perf}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT_DIR="${OUT_DIR:-${TMPDIR:-/tmp}/quiver-bench/$STAMP}"
REPS="${REPS:-3}"; REPS_W3="${REPS_W3:-1}"; W3_MSGS="${W3_MSGS:-1000000}"
WORKLOADS="${WORKLOADS:-W1 W2 W2p W4 W5:W1 W5:W2 W5:W2p W5:W4}"
if [ "${FULL_W6:-0}" = "1" ]; then W6_TOPICS=10000; W6_MSGS=1000000; W6_DUR=420s; fi
W6_TOPICS="${W6_TOPICS:-2000}"; W6_MSGS="${W6_MSGS:-200000}"; W6_DUR="${W6_DUR:-120s}"
W8_MSGS="${W8_MSGS:-1000000}"
VER="${NATS_SERVER_VERSION:-v2.15.2}"
JS_ON=1
if [ "${SKIP_JS:-0}" = "1" ] || [ ! -d "$PERF/tools/cmd/jsbench" ]; then JS_ON=0; fi

mkdir -p "$OUT_DIR"
QOUT="$OUT_DIR/quiver.jsonl"; JOUT="$OUT_DIR/jetstream.txt"; LOG="$OUT_DIR/bench.log"
: > "$QOUT"; : > "$JOUT"; : > "$LOG"
T="$(mktemp -d "${TMPDIR:-/tmp}/quiver-bench-run.XXXXXX")"
PIDS=()
stop_pid() {
  local p="$1"
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
  fi
  return 0
}
# stop_all stops every server and deletes their stores: the disk is shared,
# and a store counts the whole file system's usage (see disk_ratio).
stop_all() { for p in "${PIDS[@]:-}"; do stop_pid "$p"; done; PIDS=(); rm -rf "$T"/q-* "$T"/js-*/ 2>/dev/null || true; }
# disk_ratio [extra MiB]: the file system's used share as Quiver's store computes it
# (as df does: used / (used + available), so blocks reserved for others do not count),
# in percent, after extra MiB more are used. Above 75 % (diskMaxUsedSpaceRatio) the
# store refuses appends and deletes its oldest segment.
disk_ratio() { df -Pm "$T" | awk -v x="${1:-0}" 'NR==2{printf "%d", ($3+x)*100/($3+$4)}'; }
cleanup() { stop_all; if [ "${KEEP:-0}" = "1" ]; then echo "kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$(date +%s)
say() { echo "== $* (t=$(( $(date +%s) - T0 ))s, load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$LOG"; }

say "build quiver"
(cd "$ROOT" && go build -o "$T/quiver" ./cmd/quiver)
Q="$T/quiver"
if [ "$JS_ON" = 1 ]; then
  say "build jsbench and nats-server $VER"
  (cd "$PERF/tools" && go build -o "$T/jsbench" ./cmd/jsbench)
  JB="$T/jsbench"
  if [ -n "${NATS_SERVER:-}" ]; then NS_BIN="$NATS_SERVER"; else
    GOBIN="$T" go install "github.com/nats-io/nats-server/v2@$VER"; NS_BIN="$T/nats-server"
  fi
fi

# ---------- servers ----------
# start_quiver NAME [serve flags] -> QPID, QNS (name server address), QPX (gRPC proxy
# address, "" for none). No gRPC proxy unless the flags ask for one (--proxy-addr, W7):
# the workloads speak Remoting, and the broker's RSS is compared without it.
SERVE_EXTRA=()
if "$Q" serve --help 2>/dev/null | grep -q -- '--proxy-addr'; then SERVE_EXTRA=(--proxy-addr ""); fi
start_quiver() {
  local name="$1"; shift
  rm -rf "$T/q-$name"
  "$Q" serve --data "$T/q-$name" --namesrv-addr 127.0.0.1:0 --broker-addr 127.0.0.1:0 "${SERVE_EXTRA[@]}" "$@" \
    > "$T/q-$name.out" 2> "$T/q-$name.err" &
  QPID=$!; PIDS+=("$QPID"); QNS=""
  for _ in $(seq 1 200); do
    QNS="$(grep -o 'name server on [0-9.]*:[0-9]*' "$T/q-$name.out" 2>/dev/null | awk '{print $4}' || true)"
    [ -n "$QNS" ] && break; sleep 0.1
  done
  [ -n "$QNS" ] || { echo "quiver serve ($name) did not start"; cat "$T/q-$name.out" "$T/q-$name.err"; exit 1; }
  QPX="$(grep -o 'proxy on [0-9.]*:[0-9]*' "$T/q-$name.out" 2>/dev/null | awk '{print $3}' || true)"
  echo "quiver serve ($name $*) pid $QPID, name server $QNS${QPX:+, gRPC proxy $QPX}" | tee -a "$LOG"
}
# start_quiver_split NAME BROKER-CONF-LINES -> QPID (the broker), QNS: `quiver namesrv` and
# `quiver broker -c` as two processes, for settings `quiver serve` has no flag for.
start_quiver_split() {
  local name="$1" extra="$2" port=""
  rm -rf "$T/q-$name"; mkdir -p "$T/q-$name"
  "$Q" namesrv -p 0 > "$T/q-$name-ns.out" 2> "$T/q-$name-ns.err" &
  PIDS+=("$!"); QNS=""
  for _ in $(seq 1 100); do
    QNS="$(grep -o 'name server on [^ ]*' "$T/q-$name-ns.out" 2>/dev/null | sed 's/.*:/127.0.0.1:/' || true)"
    [ -n "$QNS" ] && break; sleep 0.1
  done
  [ -n "$QNS" ] || { echo "quiver namesrv ($name) did not start"; cat "$T/q-$name-ns.out" "$T/q-$name-ns.err"; exit 1; }
  for _ in $(seq 1 50); do # a free port for the broker (listenPort must be set)
    port=$(( 20000 + RANDOM % 20000 ))
    (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
  printf 'brokerClusterName=DefaultCluster\nbrokerName=broker-a\nbrokerId=0\nbrokerIP1=127.0.0.1\nlistenPort=%s\nnamesrvAddr=%s\nstorePathRootDir=%s\n%s\n' \
    "$port" "$QNS" "$T/q-$name" "$extra" > "$T/q-$name.conf"
  "$Q" broker -c "$T/q-$name.conf" > "$T/q-$name.out" 2> "$T/q-$name.err" &
  QPID=$!; PIDS+=("$QPID")
  for _ in $(seq 1 200); do grep -q 'quiver: broker' "$T/q-$name.out" 2>/dev/null && break; sleep 0.1; done
  grep -q 'quiver: broker' "$T/q-$name.out" || { echo "quiver broker ($name) did not start"; cat "$T/q-$name.out" "$T/q-$name.err"; exit 1; }
  echo "quiver namesrv $QNS + broker pid $QPID ($(echo "$extra" | tr '\n' ' '))" | tee -a "$LOG"
}
# start_nats NAME EXTRA-JETSTREAM-LINE -> JPID, JURL (as jetstream-baseline.sh configures it)
start_nats() {
  local name="$1" extra="$2"
  rm -rf "$T/js-$name" "$T/js-$name.log"
  cat > "$T/js-$name.conf" <<CONF
listen: "127.0.0.1:-1"
server_name: "bench_$name"
jetstream {
  store_dir: "$T/js-$name"
  max_memory_store: 256MB
  max_file_store: 60GB
  $extra
}
CONF
  "$NS_BIN" -c "$T/js-$name.conf" -l "$T/js-$name.log" > "$T/js-$name.out" 2>&1 &
  JPID=$!; PIDS+=("$JPID"); local port=""
  for _ in $(seq 1 100); do
    port="$(grep -m1 -o 'Listening for client connections on 127.0.0.1:[0-9]*' "$T/js-$name.log" 2>/dev/null | sed 's/.*://' || true)"
    [ -n "$port" ] && grep -q "Server is ready" "$T/js-$name.log" && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "nats-server ($name) did not start"; cat "$T/js-$name.log" "$T/js-$name.out"; exit 1; }
  JURL="nats://127.0.0.1:$port"
  echo "nats-server ($name${extra:+, $extra}) pid $JPID, $JURL" | tee -a "$LOG"
}

# ---------- runners ----------
# q NS WORKLOAD [flags]: one Quiver workload; JSON lines to QOUT, its summary lines to the log.
q() {
  local ns="$1" w="$2"; shift 2
  local rc=0
  "$Q" bench workload "$w" --namesrv "$ns" --json "$@" > "$T/q.json" 2> "$T/q.err" || rc=$?
  cat "$T/q.json" >> "$QOUT"; cat "$T/q.err" >> "$T/quiver-progress.log"
  grep -v '^\[' "$T/q.err" | sed 's/^/  quiver    /' | tee -a "$LOG" || true
  if [ "$rc" != 0 ]; then echo "  quiver    $w FAILED (exit $rc)" | tee -a "$LOG"; fi
  return 0
}
# js ARGS: one jsbench run; RESULT lines to JOUT.
js() {
  [ "$JS_ON" = 1 ] || return 0
  local out rc=0
  out="$("$JB" "$@" 2>> "$T/jsbench.log")" || rc=$?
  printf '%s\n' "$out" >> "$JOUT"
  printf '%s\n' "$out" | awk '/^RESULT/{l="";r="";p="";for(i=2;i<=NF;i++){split($i,a,"=");if(a[1]=="label")l=a[2];if(a[1]=="rate")r=a[2];if(a[1]=="p99_us")p=a[2];if(a[1]=="anon_mib")r="anon "a[2]" MiB"}; printf "  jetstream %s: %s%s\n", l, r, (p!=""?", p99 "p" us":"")}' | tee -a "$LOG"
  if [ "$rc" != 0 ]; then echo "  jetstream $1 FAILED (exit $rc): $(tail -n 2 "$T/jsbench.log" | tr '\n' ' ')" | tee -a "$LOG"; fi
  return 0
}
# js_workload W URL-DEFAULT URL-FSYNC: the jsbench run of a repeated workload (labels as jetstream-baseline.sh).
js_workload() {
  local w="$1" a="$2" b="$3"
  case "$w" in
    W1)     js pub -url "$a" -mode sync -pubs 1 -n 30000 -dur 5s -label "W1:publish-sync:1pub:1KiB:default" ;;
    W2)     js pub -url "$a" -mode sync -pubs 8 -n 120000 -dur 5s -label "W2:publish-sync:8pubs:1KiB:default" ;;
    W2p)    js pub -url "$a" -mode async -pubs 1 -window 256 -n 400000 -dur 5s -label "W2p:publish-async-window256:1pub:1KiB:default" ;;
    W4)     js latency -url "$a" -rate 5000 -dur 10s -warmup 1s -label "W4:e2e-latency:5000msg/s:1KiB:default" ;;
    W5:W1)  js pub -url "$b" -mode sync -pubs 1 -n 30000 -dur 5s -label "W5:publish-sync:1pub:1KiB:fsync-always" ;;
    W5:W2)  js pub -url "$b" -mode sync -pubs 8 -n 120000 -dur 5s -label "W5:publish-sync:8pubs:1KiB:fsync-always" ;;
    W5:W2p) js pub -url "$b" -mode async -pubs 1 -window 256 -n 400000 -dur 5s -label "W5:publish-async-window256:1pub:1KiB:fsync-always" ;;
    W5:W4)  js latency -url "$b" -rate 200 -dur 10s -warmup 1s -label "W5:e2e-latency:200msg/s:1KiB:fsync-always" ;;
    *)      echo "  (no JetStream counterpart for $w)" ;;
  esac
}

# ---------- environment ----------
{
  echo "# Quiver vs NATS JetStream, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- quiver commit: ${COMMIT:-$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (working tree differs from it)')}"
  [ "$JS_ON" = 1 ] && echo "- $("$NS_BIN" --version 2>&1) (file store, R1), client jsbench (nats.go, $PERF/tools)"
  echo "- $(go version)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') × $(nproc); kernel $(uname -r)"
  echo "- store filesystem: $(df -T "$T" | awk 'NR==2{print $2" on "$1}'), $(disk_ratio) % used as the store counts it (used / (used + available))"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- REPS=$REPS (W3: $REPS_W3), W3_MSGS=$W3_MSGS, W6b: $W6_TOPICS topics / $W6_MSGS msgs, order per repetition: JetStream then Quiver"
} > "$T/env.md"
cat "$T/env.md" | tee -a "$LOG"
if [ "$(disk_ratio 4096)" -ge 74 ]; then
  echo "WARNING: the store will count this disk $(disk_ratio 4096) % full once the runs have written ~4 GiB;" \
    "at 75 % it refuses appends and deletes its oldest segment, which fails the backlog runs" | tee -a "$LOG"
fi

# ---------- phase 1: repeated workloads, then W7 ----------
if [ "${SKIP_W7:-0}" != "1" ] && [ "${#SERVE_EXTRA[@]}" -gt 0 ]; then
  start_quiver async --proxy-addr 127.0.0.1:0  # a free port, read back from serve's output
else
  start_quiver async
fi
QA_NS=$QNS; QA_PX=$QPX
start_quiver sync --sync-flush; QS_NS=$QNS
JA=""; JB_URL=""
if [ "$JS_ON" = 1 ]; then
  start_nats a ""; JA=$JURL
  start_nats b "sync_interval: always"; JB_URL=$JURL
fi
for r in $(seq 1 "$REPS"); do
  say "repetition $r of $REPS: $WORKLOADS"
  for w in $WORKLOADS; do
    js_workload "$w" "$JA" "$JB_URL"
    case "$w" in W5*) q "$QS_NS" "$w" ;; *) q "$QA_NS" "$w" ;; esac
  done
done
# W7 (Quiver only): W1 and W2p over Remoting and through the gRPC proxy of the async
# server, interleaved (Remoting, gRPC, Remoting, gRPC) REPS times in one invocation, so
# that its headline carries the ratios gRPC / Remoting of the medians.
if [ "${SKIP_W7:-0}" != "1" ]; then
  if [ -n "$QA_PX" ]; then
    say "W7: W1 and W2p over Remoting and gRPC ($QA_PX), interleaved, $REPS repetitions (Quiver only)"
    q "$QA_NS" W7 --proxy "$QA_PX" --reps "$REPS"
  else
    echo "  quiver    W7 skipped: this quiver serve has no gRPC proxy (--proxy-addr)" | tee -a "$LOG"
  fi
fi
stop_all

# ---------- phase 2: backlog (W3 fill, W6a, W3, W3b; Quiver also W3:pop), fresh servers ----------
if [ "${SKIP_W3:-0}" != "1" ]; then
  for r in $(seq 1 "$REPS_W3"); do
    say "backlog $r of $REPS_W3: $W3_MSGS x 1 KiB"
    if [ "$JS_ON" = 1 ]; then
      start_nats w3 ""
      js pub -url "$JURL" -mode async -pubs 1 -window 256 -n "$W3_MSGS" -dur 120s -label "W3:fill-backlog(async-window256):1KiB:default"
      sleep 2
      js rss -pid "$JPID" -label "W6a:server-rss-with-backlog:${W3_MSGS}msgs:default"
      js consume -url "$JURL" -n "$W3_MSGS" -ack explicit -batch 500 -maxackpending 1000 -durable "W3E$r" -dur 120s -label "W3:consume-backlog:ack-each:1KiB:default"
      js consume -url "$JURL" -n "$W3_MSGS" -ack all -batch 500 -maxackpending 1000 -durable "W3A$r" -dur 120s -label "W3b:consume-backlog:cumulative-ack-per-100:1KiB:default"
      js rss -pid "$JPID" -label "W6a:server-rss-after-drain:default"
      stop_all
    fi
    start_quiver w3
    q "$QNS" W3 --count "$W3_MSGS" --broker-pid "$QPID"
    stop_all
  done
fi

# ---------- phase 3: many topics (W6b), fresh servers ----------
if [ "${SKIP_W6:-0}" != "1" ]; then
  say "W6b: $W6_TOPICS topics, $W6_MSGS x 1 KiB round-robin over them"
  if [ "$JS_ON" = 1 ]; then
    start_nats w6 ""
    js rss -pid "$JPID" -label "W6b:server-rss-idle:default"
    js streams -url "$JURL" -count "$W6_TOPICS" -msgs "$W6_MSGS" -par 8 -dur "$W6_DUR" -label "W6b:${W6_TOPICS}topics-create+publish:1KiB:default"
    sleep 2
    js rss -pid "$JPID" -label "W6b:server-rss:${W6_TOPICS}topics+${W6_MSGS}msgs:default"
    stop_all
  fi
  # Consume-queue segments are preallocated (mappedFileSizeConsumeQueue, 6,000,000 bytes
  # each): topics x 4 queues of them must fit on the disk.
  # The store must stay under its 75 % mark with them and the commit log.
  cq_bytes="$(echo "${W6_CONF:-}" | tr ' ' '\n' | sed -n 's/^mappedFileSizeConsumeQueue=//p')"
  need_mib=$(( W6_TOPICS * 4 * ${cq_bytes:-6000000} / 1048576 + W6_MSGS * 1200 / 1048576 + 2048 ))
  if [ "$(disk_ratio "$need_mib")" -ge 75 ]; then
    echo "  quiver    W6b skipped: its consume queues and commit log would take ${need_mib} MiB, and the store would count the disk $(disk_ratio "$need_mib") % full (see W6_CONF)" | tee -a "$LOG"
  else
    if [ -n "${W6_CONF:-}" ]; then
      start_quiver_split w6 "$(echo "$W6_CONF" | tr ' ' '\n')"
    else
      start_quiver w6
    fi
    q "$QNS" W6b --topics "$W6_TOPICS" --count "$W6_MSGS" --duration "$W6_DUR" --broker-pid "$QPID"
  fi
  stop_all
fi

# ---------- phase 4: timer messages (W8, Quiver only), fresh server ----------
if [ "${SKIP_W8:-0}" != "1" ]; then
  say "W8: $W8_MSGS timer messages due over 60 s (Quiver only)"
  start_quiver w8
  q "$QNS" W8 --count "$W8_MSGS" --broker-pid "$QPID"
  stop_all
fi

# ---------- report ----------
say "done"
echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg); workloads took $(( $(date +%s) - T0 )) s" >> "$T/env.md"
RARGS=(--quiver "$QOUT" --jsonl "$OUT_DIR/results.jsonl" --md "$T/table.md")
[ "$JS_ON" = 1 ] && RARGS+=(--jetstream "$JOUT")
echo
"$Q" bench report "${RARGS[@]}"
{ cat "$T/env.md"; echo; echo "Command: \`$CMDLINE\`"; echo; cat "$T/table.md"; } > "$OUT_DIR/summary.md"
cp "$T/quiver-progress.log" "$OUT_DIR/" 2>/dev/null || true
echo
echo "results: $OUT_DIR (summary.md, results.jsonl, quiver.jsonl, jetstream.txt, bench.log)"
