#!/usr/bin/env bash
# Starts a throwaway single-node Slurm (slurmctld + slurmd on loopback) whose configuration,
# state, spool, logs and pid files all live in DIR, for stab-sweep's Slurm integration test.
#
#   scripts/slurm-up.sh DIR        # then: export SLURM_CONF=DIR/slurm.conf (also in DIR/env)
#   scripts/slurm-down.sh DIR
#
# Needs root and `apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge`.
# Authentication is off (AuthType=auth/none, CredType=cred/none; no munged): the cluster must
# stay on loopback. Ports are random (SLURM_TEST_PORT overrides) so that several test clusters
# can run on one machine.
set -euo pipefail
dir="${1:?usage: slurm-up.sh DIR}"
mkdir -p "$dir"/state "$dir"/spool
dir="$(cd "$dir" && pwd)"
for exe in slurmctld slurmd sinfo sbatch; do
  command -v "$exe" >/dev/null || { echo "slurm-up: $exe not found on PATH" >&2; exit 1; }
done

port="${SLURM_TEST_PORT:-$(( 20000 + RANDOM % 20000 ))}"
node="$(slurmd -C | head -n1)"
cpus="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node")"
mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")"
conf="$dir/slurm.conf"
cat >"$conf" <<CONF
ClusterName=stabtest
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus:-1} RealMemory=${mem:-1000} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
echo "export SLURM_CONF=$conf" >"$dir/env"
export SLURM_CONF="$conf"

# Foreground daemons in their own sessions, so we know their pids and they outlive no one
# by accident; output goes to the log directory, never to the caller's pipes.
setsid slurmctld -D -i -f "$conf" </dev/null >"$dir/slurmctld.out" 2>&1 &
echo $! >"$dir/slurmctld.launch.pid"
setsid slurmd -D -N localhost -f "$conf" </dev/null >"$dir/slurmd.out" 2>&1 &
echo $! >"$dir/slurmd.launch.pid"

for _ in $(seq 1 150); do
  state="$(sinfo -h -N -o %T 2>/dev/null || true)"
  if [ "$state" = "idle" ]; then
    echo "slurm-up: cluster idle (SLURM_CONF=$conf)" >&2
    exit 0
  fi
  sleep 0.2
done
echo "slurm-up: node did not become idle (state: ${state:-none}); logs in $dir" >&2
tail -n 20 "$dir"/slurmctld.log "$dir"/slurmd.log "$dir"/*.out >&2 || true
exit 1
