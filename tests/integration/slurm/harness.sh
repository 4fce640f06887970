#!/usr/bin/env bash
# A single-node Slurm cluster on localhost, for tests and for users trying the Slurm runner.
#
#   harness.sh install   apt-get install slurm-wlm and munge (Debian 12), once
#   harness.sh start     write slurm.conf, start munged, slurmctld and slurmd; wait for "idle"
#   harness.sh status    print the daemons and sinfo; exit 0 only when all three run
#   harness.sh stop      cancel jobs, stop the daemons by their PIDs (never by name)
#   harness.sh stop --force   the same even while other clients still use the cluster
#
# Several clients may share the cluster: `start` registers the calling process (its parent
# PID, or $PYTAMS_SLURM_CLIENT) and `stop` stops the daemons only when no other registered
# client is alive. start and stop are serialized by a lock file.
#
# Needs root (it writes /etc/slurm/slurm.conf and starts daemons), no systemd.
# Scratch (state, spool, logs, pid files): $PYTAMS_SLURM_DIR, default /tmp/pytams-slurm.
# After `start`, sbatch/squeue/scancel and dask-jobqueue's SLURMCluster (queue "debug",
# interface "lo") work; `start` and `stop` are idempotent.
set -euo pipefail

SCRATCH="${PYTAMS_SLURM_DIR:-/tmp/pytams-slurm}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
MUNGE_PID=/run/munge/munged.pid
CTLD_PID="$SCRATCH/slurmctld.pid"
SLURMD_PID="$SCRATCH/slurmd.pid"
START_TIMEOUT="${PYTAMS_SLURM_START_TIMEOUT:-60}"
CLIENTS="$SCRATCH/clients"
CLIENT="${PYTAMS_SLURM_CLIENT:-$PPID}"

log() { echo "harness: $*" >&2; }

alive() {  # alive PIDFILE: the pid in the file is a running process
    [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

cmd_install() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v munged >/dev/null && command -v sbatch >/dev/null; then
        log "slurm-wlm and munge already installed"
        return 0
    fi
    [[ $EUID -eq 0 ]] || { log "install needs root (apt-get)"; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # the packages' scripts try to start services without systemd and fail harmlessly
    apt-get install -y -q --no-install-recommends slurm-wlm munge || true
    command -v slurmctld >/dev/null && command -v munged >/dev/null \
        || { log "apt-get did not install slurm-wlm and munge; see its output above"; exit 1; }
}

write_conf() {
    local cpus mem
    cpus="$(nproc)"
    # slurmd drains a node whose configured memory exceeds the real one: declare 80 %
    mem="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)"
    mkdir -p "$CONF_DIR" "$SCRATCH/state" "$SCRATCH/spool"
    cat >"$CONF" <<CONF
# written by pytams tests/integration/slurm/harness.sh: one node, localhost
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
StateSaveLocation=$SCRATCH/state
SlurmdSpoolDir=$SCRATCH/spool
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$SCRATCH/slurmctld.log
SlurmdLogFile=$SCRATCH/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
Waittime=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
}

lock() {  # serialize start and stop (fd 9; closed for the daemons)
    mkdir -p "$SCRATCH" "$CLIENTS"
    exec 9>"$SCRATCH/.lock"
    flock -w 120 9 || { log "another harness.sh holds $SCRATCH/.lock for 2 min"; exit 1; }
}

other_clients() {  # the registered clients other than this one that are still alive
    local file id
    for file in "$CLIENTS"/*; do
        [[ -e "$file" ]] || continue
        id="${file##*/}"
        [[ "$id" == "$CLIENT" ]] && continue
        if [[ "$id" =~ ^[0-9]+$ ]] && ! kill -0 "$id" 2>/dev/null; then
            rm -f "$file"  # that client is gone
            continue
        fi
        echo "$id"
    done
}

controller_state() {  # the node state, or nothing when the controller does not answer
    timeout 10 sinfo -h -o %t 2>/dev/null | head -n1 || true
}

cmd_start() {
    [[ $EUID -eq 0 ]] || { log "start needs root"; exit 1; }
    command -v slurmctld >/dev/null || { log "Slurm is not installed: run '$0 install'"; exit 1; }
    lock
    touch "$CLIENTS/$CLIENT"
    if alive "$CTLD_PID" && alive "$SLURMD_PID" && alive "$MUNGE_PID"; then
        log "already running (scratch $SCRATCH)"
        return 0
    fi
    write_conf
    mkdir -p /run/munge
    chown munge:munge /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    alive "$MUNGE_PID" || runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID" 9>&-
    alive "$CTLD_PID" || /usr/sbin/slurmctld 9>&-
    alive "$SLURMD_PID" || /usr/sbin/slurmd -N localhost 9>&-
    local deadline=$((SECONDS + START_TIMEOUT)) state=""
    while ((SECONDS < deadline)); do
        state="$(controller_state)"
        case "$state" in
            idle* | mix* | alloc*) log "Slurm up (node $state, scratch $SCRATCH)"; return 0 ;;
            down* | drain* | drng*) timeout 10 scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
        esac
        sleep 1
    done
    log "Slurm did not become idle within ${START_TIMEOUT}s (sinfo: '${state}'); logs:"
    tail -n 20 "$SCRATCH/slurmctld.log" "$SCRATCH/slurmd.log" >&2 || true
    exit 1
}

stop_pid() {  # stop_pid PIDFILE NAME
    local pidfile="$1" name="$2" pid i
    [[ -s "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name ($pid) ignored SIGTERM for 10 s: SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
        log "stopped $name ($pid)"
    fi
    rm -f "$pidfile"
}

cmd_stop() {
    lock
    rm -f "$CLIENTS/$CLIENT"
    local others
    others="$(other_clients | tr '\n' ' ')"
    if [[ -n "$others" && "${1:-}" != "--force" ]]; then
        log "Slurm left running: still used by client(s) $others(harness.sh stop --force stops it)"
        return 0
    fi
    rm -f "$CLIENTS"/*
    if alive "$CTLD_PID"; then
        timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
        # give slurmd a moment to end the job steps it runs
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            [[ -z "$(timeout 10 squeue -h -o %i 2>/dev/null)" ]] && break
            sleep 0.5
        done
    fi
    stop_pid "$SLURMD_PID" slurmd
    stop_pid "$CTLD_PID" slurmctld
    stop_pid "$MUNGE_PID" munged
}

cmd_status() {
    local ok=0
    for pair in "munged:$MUNGE_PID" "slurmctld:$CTLD_PID" "slurmd:$SLURMD_PID"; do
        local name="${pair%%:*}" pidfile="${pair#*:}"
        if alive "$pidfile"; then
            echo "$name running (pid $(cat "$pidfile"))"
        else
            echo "$name not running"
            ok=1
        fi
    done
    if ((ok == 0)); then
        timeout 10 sinfo || true
        timeout 10 squeue || true
    fi
    return $ok
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop "${2:-}" ;;
    status) cmd_status ;;
    *) echo "usage: $0 {install|start|stop [--force]|status}" >&2; exit 2 ;;
esac
