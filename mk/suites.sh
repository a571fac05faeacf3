#!/usr/bin/env bash
# Run make targets one after another, timing each, and print a per-suite summary at the end
# (also when one fails: the run stops there and says which).
#   suites.sh TIER TARGET...      (MAKE from the environment: the calling make)
set -uo pipefail
tier=$1; shift
make_cmd=${MAKE:-make}
rows=() total=0 rc=0
for target in "$@"; do
  start=$SECONDS
  echo "=== $tier: $target"
  $make_cmd --no-print-directory "$target"
  rc=$?
  secs=$((SECONDS - start)); total=$((total + secs))
  if [ "$rc" = 0 ]; then rows+=("$(printf '%-22s %5d s  passed' "$target" "$secs")")
  else rows+=("$(printf '%-22s %5d s  FAILED (exit %d)' "$target" "$secs" "$rc")"); break; fi
done
echo
echo "=== make $tier: time per suite"
printf '%s\n' "${rows[@]}"
printf '%-22s %5d s  (%d min %02d s)\n' total "$total" $((total / 60)) $((total % 60))
if [ "$rc" = 0 ]; then echo "make $tier: every suite passed"; else echo "make $tier: FAILED"; fi
exit "$rc"
