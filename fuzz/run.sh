#!/usr/bin/env bash
# Builds every fuzz target with the nightly toolchain and runs each for FUZZ_SECONDS (default
# 60), one after the other, then prints executions per target. Exits non-zero if any target
# found a crash (the input is left in fuzz/artifacts/<target>/).
#
#   fuzz/run.sh                       # all targets, 60 s each
#   FUZZ_SECONDS=600 fuzz/run.sh      # 10 minutes each
#   fuzz/run.sh shell_analyze glob_match
#
# Needs: rustup nightly toolchain and `cargo install cargo-fuzz`.
set -u
cd "$(dirname "$0")"

SECONDS_EACH="${FUZZ_SECONDS:-60}"
JOBS="${FUZZ_BUILD_JOBS:-1}"
ALL=(shell_analyze glob_match policy_load hook_formats mcp_frames api_body audit_lines audit_walk)
if [ "$#" -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL[@]}"); fi

CARGO_BUILD_JOBS="$JOBS" cargo +nightly fuzz build || exit 2

mkdir -p logs
summary=()
failed=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  log="logs/$t.log"
  echo "== $t: ${SECONDS_EACH}s"
  # -rss_limit_mb and -timeout turn memory blow-ups and hangs into reported failures too.
  # audit_walk writes a small audit directory per input: keep it in memory where possible.
  tmp="${TMPDIR:-/tmp}"
  [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ] && tmp=/dev/shm
  TMPDIR="$tmp" cargo +nightly fuzz run "$t" "corpus/$t" "${seeds[@]}" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1)
  [ -z "$runs" ] && runs="stat::number_of_executed_units: $(grep -o 'number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')"
  if [ "$rc" -ne 0 ]; then
    failed=1
    summary+=("$t: FAILED (exit $rc; see fuzz/$log and fuzz/artifacts/$t/) $runs")
  else
    summary+=("$t: ok, $runs")
  fi
done

echo
echo "== summary (FUZZ_SECONDS=$SECONDS_EACH)"
printf '%s\n' "${summary[@]}"
exit "$failed"
