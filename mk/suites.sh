#!/usr/bin/env bash
# Run make targets, timing each, and print a per-suite summary at the end (also when one fails:
# that lane stops there and the summary says which).
#   suites.sh TIER TARGET... [-- TARGET...]      (MAKE from the environment: the calling make)
# Targets before `--` run one after another with their output on the console (lane A). Targets
# after `--` form lane B: they run one after another too, but alongside lane A, each with its
# output in .build/suites/<target>.log; the console gets a line when each starts and ends, and
# the log's last lines when one fails. SUITES_LANES=1 runs lane B after lane A instead.
set -uo pipefail
tier=$1; shift
make_cmd=${MAKE:-make}
lane_a=() lane_b=() seen_sep=0
for arg in "$@"; do
  if [ "$arg" = -- ]; then seen_sep=1
  elif [ "$seen_sep" = 1 ]; then lane_b+=("$arg")
  else lane_a+=("$arg"); fi
done
logs=.build/suites
mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/*.row

# A process of one suite can leave the shared stdout/stderr non-blocking (seen: test-ee's first
# ansible command then stopped with "Ansible requires blocking IO"). Every suite starts with
# blocking stdio and its own stdin (/dev/null).
blocking() {
  python3 -c 'import os
for fd in (0, 1, 2):
    try:
        os.set_blocking(fd, True)
    except OSError:
        pass'
}

# CPU seconds (user + system) used so far by this shell's finished children, into $cpu_now.
# (`times` must run in this shell, not in a pipe or $(...), or it reports the subshell.)
# cpu_children FILE (a scratch file of the lane).
cpu_children() {
  times > "$1"
  cpu_now=$(awk 'NR == 2 { split($0, f, /[ ms]+/); print f[1] * 60 + f[2] + f[3] * 60 + f[4] }' "$1")
  rm -f "$1"
}

# Busy and total jiffies of the whole machine (first line of /proc/stat).
machine_jiffies() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8; print busy, busy + $5 + $6; exit }' /proc/stat
}

# run_lane NAME QUIET TARGET...: rows go to $logs/<lane>.row (one per target), exit status is the
# first failure's.
run_lane() {
  local lane=$1 quiet=$2; shift 2
  local target start secs cpu0 cpu rc=0
  for target in "$@"; do
    start=$SECONDS
    cpu_children "$logs/.times.$lane"; cpu0=$cpu_now
    blocking
    if [ "$quiet" = 1 ]; then
      echo "=== $tier (lane $lane): $target started, log in $logs/$target.log"
      $make_cmd --no-print-directory "$target" < /dev/null > "$logs/$target.log" 2>&1
      rc=$?
    else
      echo "=== $tier: $target"
      $make_cmd --no-print-directory "$target" < /dev/null
      rc=$?
    fi
    secs=$((SECONDS - start))
    cpu_children "$logs/.times.$lane"
    cpu=$(awk -v a="$cpu0" -v b="$cpu_now" 'BEGIN { printf "%d", b - a }')
    if [ "$rc" = 0 ]; then
      printf '%-5s %-22s %5d s  %5d cpu-s  passed\n' "$lane" "$target" "$secs" "$cpu" >> "$logs/$lane.row"
      [ "$quiet" = 1 ] && echo "=== $tier (lane $lane): $target passed in $secs s"
    else
      printf '%-5s %-22s %5d s  %5d cpu-s  FAILED (exit %d)\n' "$lane" "$target" "$secs" "$cpu" "$rc" >> "$logs/$lane.row"
      if [ "$quiet" = 1 ]; then
        echo "=== $tier (lane $lane): $target FAILED (exit $rc) after $secs s; the end of $logs/$target.log:"
        tail -n 200 "$logs/$target.log"
      fi
      return "$rc"
    fi
  done
  return 0
}

started=$SECONDS rc_a=0 rc_b=0 pid_b=
read -r busy0 total0 < <(machine_jiffies)
if [ "${#lane_b[@]}" -gt 0 ] && [ "${SUITES_LANES:-2}" != 1 ]; then
  run_lane B 1 "${lane_b[@]}" &
  pid_b=$!
fi
# (Lane A in a subshell of its own too: lane B, reaped by this shell, must not count in its CPU.)
( run_lane A 0 "${lane_a[@]}" ) || rc_a=$?
if [ -n "$pid_b" ]; then
  [ "${#lane_b[@]}" -gt 0 ] && echo "=== $tier: lane A done after $((SECONDS - started)) s; waiting for lane B"
  wait "$pid_b" || rc_b=$?
elif [ "${#lane_b[@]}" -gt 0 ] && [ "$rc_a" = 0 ]; then
  run_lane B 0 "${lane_b[@]}" || rc_b=$?
fi
wall=$((SECONDS - started))
read -r busy1 total1 < <(machine_jiffies)

echo
echo "=== make $tier: time per suite"
cat "$logs"/A.row "$logs"/B.row 2>/dev/null
printf '%-28s %5d s  (%d min %02d s)\n' 'wall time' "$wall" $((wall / 60)) $((wall % 60))
# (cpu-s: user + system seconds of the suite's processes; podman containers run outside them.)
awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) -v n="$(nproc)" \
  'BEGIN { if (t > 0) printf "%-28s %5.0f %%  of %d cores\n", "machine busy", 100 * b / t, n }'
if [ "$rc_a" = 0 ] && [ "$rc_b" = 0 ]; then
  echo "make $tier: every suite passed"
  exit 0
fi
echo "make $tier: FAILED"
[ "$rc_a" != 0 ] && exit "$rc_a"
exit "$rc_b"
