#!/usr/bin/env bash
# Time the named phases of a build, so a slow CI run says where its minutes went.
#   .ci/phase.sh NAME COMMAND [ARGS...]   run COMMAND, print "phase NAME: N s", keep its status
#   .ci/phase.sh --summary                print the phases logged so far as a table
# Sourced (`. .ci/phase.sh`), it defines the function `phase NAME COMMAND...` (which may then
# be a shell function of the caller's). Phases are logged (name, seconds, result;
# tab-separated) to $MAIRUST_PHASE_LOG when it is set: `.ci/run` sets it and prints the table
# at the end, whether the run passed or failed.

phase() {
  local name=$1 start status took result=ok
  shift
  start=$(date +%s%N)
  "$@"
  status=$?
  took=$((($(date +%s%N) - start) / 100000000)) # tenths of a second
  took="$((took / 10)).$((took % 10))"
  if [ "$status" -eq 0 ]; then
    echo "phase $name: $took s"
  else
    result="failed (exit $status)"
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
