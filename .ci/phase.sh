#!/usr/bin/env bash
# Time the named phases of a build, so a slow CI run says where its minutes went.
#   .ci/phase.sh NAME COMMAND [ARGS...]   run COMMAND, print "phase NAME: N s", keep its status
#   .ci/phase.sh --summary                print the phases logged so far as a table
# Sourced (`. .ci/phase.sh`), it defines the function `phase NAME COMMAND...` (which may then
# be a shell function of the caller's). Phases are logged (name, seconds, result;
# tab-separated) to $MAIRUST_PHASE_LOG when it is set: `.ci/run` sets it and prints the table
# at the end, whether the run passed or failed.
#
# Each phase also reports how busy the machine's CPUs were while it ran (all of them, from
# /proc/stat: busy = not idle and not waiting on I/O): a long phase at 95 % is short of CPU,
# one at 50 % waits on something, which more parallel tests could fill.

# "busy idle" jiffies of all CPUs since boot.
cpu_jiffies() {
  local _ user nice system idle iowait irq softirq steal
  read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
  echo "$((user + nice + system + irq + softirq + steal)) $((idle + iowait))"
}

phase() {
  local name=$1 start status took result=ok busy0 idle0 busy1 idle1 cpu=""
  shift
  start=$(date +%s%N)
  read -r busy0 idle0 < <(cpu_jiffies)
  "$@"
  status=$?
  took=$((($(date +%s%N) - start) / 100000000)) # tenths of a second
  took="$((took / 10)).$((took % 10))"
  read -r busy1 idle1 < <(cpu_jiffies)
  if [ $((busy1 - busy0 + idle1 - idle0)) -gt 0 ]; then
    cpu=", CPU $((100 * (busy1 - busy0) / (busy1 - busy0 + idle1 - idle0))) % busy"
  fi
  if [ "$status" -eq 0 ]; then
    result="ok$cpu"
    echo "phase $name: $took s$cpu"
  else
    result="failed (exit $status)$cpu"
    echo "phase $name: $took s, $result"
  fi
  if [ -n "${MAIRUST_PHASE_LOG:-}" ]; then
    printf '%s\t%s\t%s\n' "$name" "$took" "$result" >>"$MAIRUST_PHASE_LOG"
  fi
  return "$status"
}

phase_summary() {
  [ -n "${MAIRUST_PHASE_LOG:-}" ] && [ -s "$MAIRUST_PHASE_LOG" ] || return 0
  echo
  awk -F '\t' '
    BEGIN { printf "%-40s %9s  %s\n", "phase", "seconds", "result" }
    { printf "%-40s %9s  %s\n", $1, $2, $3 }
  ' "$MAIRUST_PHASE_LOG"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  case "${1:-}" in
    --summary) phase_summary ;;
    "" | -*) echo "usage: $0 NAME COMMAND [ARGS...] | --summary" >&2; exit 2 ;;
    *) phase "$@" ;;
  esac
fi
