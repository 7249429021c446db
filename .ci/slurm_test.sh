#!/usr/bin/env bash
# The workflow on a real SLURM cluster: a one-node cluster on this machine (Debian's slurm-wlm
# and munge), tests/configs/shards.yaml (three systems, each simulated in several shards and
# gathered) through snakemake-executor-plugin-slurm and profiles/slurm, checked job by job and
# against a local run of the same config unsharded (tests/test_slurm.py). Needs root and apt;
# about ten minutes on an idle 2-core machine.
#
#   bash .ci/slurm_test.sh            # KEEP=1 keeps the work folder (results, logs) afterwards
#
# Stops everything it started: the SLURM daemons, their jobs, and munged if it was not running.
set -euo pipefail
cd "$(dirname "$0")/.."

T0=$SECONDS
log() { echo "[slurm_test +$((SECONDS - T0))s] $*"; }
fail() { echo "[slurm_test] FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (apt-get, munged and slurmd run as root here)"
PARTITION=onsagerflow
CTLD_PORT=${SLURM_TEST_PORT:-26817}
NODE_PORT=$((CTLD_PORT + 1))
WORK=$(mktemp -d /tmp/onsagerflow-slurm.XXXXXX)
chmod 755 "$WORK"
PIDS=()
MUNGE_PID=""
LINKED_CONF=""
TEST_PID=""
export SLURM_CONF="$WORK/etc/slurm.conf"

show_logs() {
    for f in "$WORK"/log/*; do
        [ -f "$f" ] || continue
        echo "----- $f (last 40 lines)"
        tail -n 40 "$f"
    done
    # the job logs of failed jobs (Snakemake's own output is in pytest's report above)
    grep -rlE "Error|error:" "$WORK/runs/slurm_logs" 2>/dev/null | while read -r f; do
        echo "----- $f (last 30 lines)"
        tail -n 30 "$f"
    done
    [ -n "$MUNGE_PID" ] && tail -n 10 /var/log/munge/munged.log
    [ ${#PIDS[@]} -gt 0 ] && sinfo -R 2>/dev/null
    true
}

cleanup() {
    local rc=$?
    trap - EXIT
    set +e
    if [ "$rc" != 0 ]; then
        echo "[slurm_test] exit $rc after $((SECONDS - T0)) s; daemon logs follow" >&2
        show_logs >&2
    fi
    if [ -n "$TEST_PID" ]; then  # the test and its Snakemake runs first: they submit jobs
        kill -TERM -- "-$TEST_PID" 2>/dev/null
        for _ in $(seq 30); do kill -0 -- "-$TEST_PID" 2>/dev/null || break; sleep 1; done
        kill -KILL -- "-$TEST_PID" 2>/dev/null
    fi
    if [ ${#PIDS[@]} -gt 0 ]; then
        # Jobs run under slurmstepd, which outlives slurmd: cancel them first.
        scancel --quiet --user root 2>/dev/null
        for _ in $(seq 20); do
            [ -z "$(squeue -h -t R,CG,PD 2>/dev/null)" ] && break
            sleep 1
        done
        for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
        for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    fi
    [ -n "$MUNGE_PID" ] && kill "$MUNGE_PID" 2>/dev/null
    [ -n "$LINKED_CONF" ] && rm -f "$LINKED_CONF"
    if [ "${KEEP:-0}" = 1 ]; then echo "[slurm_test] kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- packages: Debian's SLURM (22.05 on bookworm), munge, and the plugin pinned in pyproject ---
missing=()
for p in slurmctld slurmd slurm-client munge; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || fail "apt-get update"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$WORK/apt.log" 2>&1 \
        || { tail -n 30 "$WORK/apt.log"; fail "apt-get install ${missing[*]}"; }
fi
PLUGIN=$(python3 -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['slurm'][0])")
python3 -m pip install -q --disable-pip-version-check "$PLUGIN" >"$WORK/pip.log" 2>&1 \
    || { tail -n 30 "$WORK/pip.log"; fail "pip install $PLUGIN"; }
log "SLURM $(dpkg-query -W -f='${Version}' slurmctld), $PLUGIN"

# --- munge: reuse a running munged, else start one (and stop it at the end) ---
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged --force || fail "munged did not start"
    for _ in $(seq 20); do [ -s /run/munge/munged.pid ] && break; sleep 0.5; done
    MUNGE_PID=$(cat /run/munge/munged.pid)
    munge -n | unmunge >/dev/null || fail "munge credentials do not round-trip"
fi

# --- a one-node cluster: this machine's CPUs and memory, two GPU slots ---
# The GPUs are stand-ins (device files /dev/null, /dev/zero): they make SLURM schedule the
# profile's gpu requests for real (--gpus=1 per train/evaluate job, at most two at once).
# No slurmdbd: sacct then has no data, so the plugin polls squeue (MinJobAge keeps finished
# jobs there) and the job completion log (jobcomp/filetxt) records every job's final state.
mkdir -p "$WORK"/{etc,log,state,spool}
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
cat >"$SLURM_CONF" <<EOF
ClusterName=onsagerflow
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmctldPort=$CTLD_PORT
SlurmdPort=$NODE_PORT
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$WORK/log/jobcomp.log
MinJobAge=3600
ReturnToService=2
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:2 State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$WORK/etc/gres.conf" <<EOF
AutoDetect=off
NodeName=localhost Name=gpu File=/dev/null
NodeName=localhost Name=gpu File=/dev/zero
EOF

# The job step (snakemake-executor-plugin-slurm-jobstep) drops SLURM_CONF before its inner srun,
# which then reads the compiled-in /etc/slurm/slurm.conf: link ours there while the test runs.
# A machine that has a slurm.conf of its own is left alone (and the test stops here).
DEFAULT_CONF=/etc/slurm/slurm.conf
if [ -e "$DEFAULT_CONF" ] || [ -L "$DEFAULT_CONF" ]; then
    case "$(readlink "$DEFAULT_CONF")" in
        /tmp/onsagerflow-slurm.*) rm -f "$DEFAULT_CONF" ;;  # left by a test that was killed
        *) fail "$DEFAULT_CONF exists: this machine has a SLURM of its own; run tests/test_slurm.py there (see its docstring)" ;;
    esac
fi
mkdir -p /etc/slurm
ln -s "$SLURM_CONF" "$DEFAULT_CONF"
LINKED_CONF=$DEFAULT_CONF

for port in "$CTLD_PORT" "$NODE_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        fail "port $port is in use (another slurmctld/slurmd?); set SLURM_TEST_PORT to another base"
    fi
done
slurmctld -D >"$WORK/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost >"$WORK/log/slurmd.out" 2>&1 &
PIDS+=($!)

state=""
for _ in $(seq 60); do
    state=$(sinfo -h -N -n localhost -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || fail "a SLURM daemon exited"; done
    sleep 1
done
[ "$state" = idle ] || fail "node not idle after 60 s (state: '${state:-no answer}')"
log "cluster up: node localhost idle, partition $PARTITION, $CPUS CPUs, $MEM_MB MB, gres gpu:2"

# --- a sharded config through SLURM and, unsharded, locally, compared (tests/test_slurm.py) ---
# In a process group of its own, so that an interrupted test leaves no Snakemake behind.
ONSAGERFLOW_SLURM_PARTITION=$PARTITION \
ONSAGERFLOW_SLURM_JOBCOMP="$WORK/log/jobcomp.log" \
ONSAGERFLOW_SLURM_WORK="$WORK/runs" \
    setsid timeout "${SLURM_TEST_TIMEOUT:-5400}" python3 -m pytest -p no:cacheprovider -q -s -m slurm tests/test_slurm.py &
TEST_PID=$!
wait "$TEST_PID"
TEST_PID=""
log "passed in $((SECONDS - T0)) s"
