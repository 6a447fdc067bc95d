#!/usr/bin/env bash
# Stops the test cluster started by scripts/slurm-up.sh DIR: slurmd first (a slurmd whose
# controller is gone ignores TERM for a while), then slurmctld, by pid; KILL after 5 s.
set -uo pipefail
dir="${1:?usage: slurm-down.sh DIR}"
stop() { # pid-file
  local f="$1" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    # A zombie (already exited, not reaped) counts as stopped.
    [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "Z" ] && return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
stop "$dir/slurmd.launch.pid"
stop "$dir/slurmctld.launch.pid"
exit 0
