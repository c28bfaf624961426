#!/usr/bin/env bash
# bench.sh - run the W-suite of ../shared/perf/WORKLOADS.md against a fresh
# `quiver serve` (ASYNC_FLUSH), then W5 against a fresh `quiver serve
# --sync-flush`, writing one JSON line per result to $OUT; when
# ../shared/perf/jetstream-baseline.sh exists, run it too and print
# Quiver / JetStream per workload. Not run by CI.
#
# Environment: OUT [bench-results.jsonl]  REPS [3] (W1, W2, W2p, W4, W5)
#   W3_MSGS [1000000]  SKIP_JS=1 (no JetStream)  KEEP=1 (keep the temp dir)
#   WORKLOADS ["W1 W2 W2p W4"] (repeated), BACKLOG [W3] ("" to skip W3/W6a)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$PWD/bench-results.jsonl}"; : > "$OUT"
REPS="${REPS:-3}"; W3_MSGS="${W3_MSGS:-1000000}"
WORKLOADS="${WORKLOADS:-W1 W2 W2p W4}"; BACKLOG="${BACKLOG-W3}"
T="$(mktemp -d "${TMPDIR:-/tmp}/quiver-bench.XXXXXX")"
SPID=""
stop_server() {
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill "$SPID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SPID" 2>/dev/null && kill -9 "$SPID" 2>/dev/null || true
  fi
  SPID=""
}
cleanup() { stop_server; if [ "${KEEP:-0}" = "1" ]; then echo "kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT INT TERM

echo "== build quiver"
(cd "$ROOT" && go build -o "$T/quiver" ./cmd/quiver)
Q="$T/quiver"

start_server() { # name extra-flags...  -> SPID, NS
  local name="$1"; shift
  rm -rf "$T/data-$name"
  "$Q" serve --data "$T/data-$name" --namesrv-addr 127.0.0.1:0 --broker-addr 127.0.0.1:0 "$@" \
    > "$T/$name.out" 2> "$T/$name.err" &
  SPID=$!
  NS=""
  for _ in $(seq 1 100); do
    NS="$(grep -o 'name server on [0-9.]*:[0-9]*' "$T/$name.out" 2>/dev/null | awk '{print $4}' || true)"
    [ -n "$NS" ] && break; sleep 0.1
  done
  [ -n "$NS" ] || { echo "quiver serve did not start"; cat "$T/$name.out" "$T/$name.err"; exit 1; }
  echo "quiver serve ($name) pid $SPID, name server $NS"
}

run() { "$Q" bench workload "$@" --namesrv "$NS" --json | tee -a "$OUT"; }

start_server async
for r in $(seq 1 "$REPS"); do
  for w in $WORKLOADS; do run "$w"; done
done
if [ -n "$BACKLOG" ]; then run W3 --count "$W3_MSGS" --broker-pid "$SPID"; fi
stop_server

start_server sync --sync-flush
for r in $(seq 1 "$REPS"); do run W5; done
stop_server
echo "Quiver results: $OUT"

median() { sort -g | awk '{a[NR]=$1} END{if(NR==0)exit; if(NR%2)print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
q_med() { # workload field
  { grep "\"workload\":\"$1\"" "$OUT" || true; } | sed -n "s/.*\"$2\":\([0-9.e+-]*\).*/\1/p" | median
}
echo "== Quiver (medians)"
for w in W1 W2 W2p W3:fill W3 W3b W4 W5:W1 W5:W2 W5:W2p W5:W4; do
  m="$(q_med "$w" msgs_per_sec)"; [ -n "$m" ] || continue
  printf 'quiver %-8s %10.0f msg/s  p50 %8.0f us  p99 %8.0f us\n' "$w" "$m" "$(q_med "$w" p50_us)" "$(q_med "$w" p99_us)"
done

JS="$ROOT/../shared/perf/jetstream-baseline.sh"
if [ "${SKIP_JS:-0}" != "1" ] && [ -f "$JS" ]; then
  echo "== JetStream ($JS)"
  JSOUT="$T/jetstream.txt"
  W3_MSGS="$W3_MSGS" REPS="$REPS" SKIP_W6=1 OUT="$JSOUT" bash "$JS"
  j_med() { { grep "label=$1 " "$JSOUT" || true; } | sed -n "s/.* $2=\([0-9.e+-]*\).*/\1/p" | median; }
  echo "== Quiver / JetStream (medians; throughput ratio, and p99 for latency)"
  while read -r qw jl; do
    qm="$(q_med "$qw" msgs_per_sec)"; jm="$(j_med "$jl" rate)"
    [ -n "$qm" ] && [ -n "$jm" ] || continue
    line="$(awk -v a="$qm" -v b="$jm" -v w="$qw" 'BEGIN{printf "%-8s quiver %10.0f  jetstream %10.0f msg/s  ratio %.2f", w, a, b, a/b}')"
    qp="$(q_med "$qw" p99_us)"; jp="$(j_med "$jl" p99_us)"
    if [ -n "$qp" ] && [ -n "$jp" ]; then
      line="$line$(awk -v a="$qp" -v b="$jp" 'BEGIN{printf "  | p99 %.0f vs %.0f us, ratio %.2f", a, b, a/b}')"
    fi
    echo "$line"
  done <<'MAP'
W1 W1:publish-sync:1pub:1KiB:default
W2 W2:publish-sync:8pubs:1KiB:default
W2p W2p:publish-async-window256:1pub:1KiB:default
W3:fill W3:fill-backlog(async-window256):1KiB:default
W3 W3:consume-backlog:ack-each:1KiB:default
W3b W3b:consume-backlog:cumulative-ack-per-100:1KiB:default
W4 W4:e2e-latency:5000msg/s:1KiB:default
W5:W1 W5:publish-sync:1pub:1KiB:fsync-always
W5:W2 W5:publish-sync:8pubs:1KiB:fsync-always
W5:W2p W5:publish-async-window256:1pub:1KiB:fsync-always
W5:W4 W5:e2e-latency:200msg/s:1KiB:fsync-always
MAP
fi
