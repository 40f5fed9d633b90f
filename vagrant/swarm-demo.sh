#!/usr/bin/env bash
# The walkthrough's failure story with Docker Swarm, on the four VMs of this directory's
# Vagrantfile (each a hablock node serving Docker's volume plugin, the four engines one Swarm).
# Services portainer and wp_db on hablock volumes; wp_db's database is MariaDB: it commits records
# one at a time (InnoDB, flushed at each commit) and counts each one acknowledged only once it is
# committed. The VM running wp_db is powered off hard (`vagrant halt
# --force`); Swarm starts wp_db on another VM, the volume mounts there and its node becomes the
# owner; the VM is powered on again and rejoins. Then every acknowledged record must be in the
# volume. Run with --help.
#
# Every cluster command is shown as it runs on a VM (root@vN:~# ...). Exit status 1 when something
# does not happen as it should.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"

prog=swarm-demo.sh
# As in the Vagrantfile.
declare -A IP=([v1]=192.168.56.11 [v2]=192.168.56.12 [v3]=192.168.56.13 [v4]=192.168.56.14)
VMS=(v1 v2 v3 v4)
DRIVER=hablock
VOLUME=wp_mysql-data
# On every VM, outside the volume: the file in which wp_db counts its acknowledged records.
ACKS=/var/lib/hablock-demo
# wp_db's image: BASE_IMAGE with Debian's MariaDB server and client, made on each VM (docker run
# + commit).
BASE_IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
DB_IMAGE=hablock-demo-mariadb:1
PORTAINER_IMAGE="${PORTAINER_IMAGE:-portainer/portainer-ce:latest}"

usage() {
  cat <<EOF
Usage: $prog [--run-seconds N] [--wait SECONDS] | --cleanup | --help

The walkthrough's node failure story on Docker Swarm, on the VMs of ./Vagrantfile (vagrant up
first: it installs Docker with hablock's volume plugin on each VM and joins the engines in a Swarm):

  1. services portainer ($PORTAINER_IMAGE) and wp_db ($DB_IMAGE: $BASE_IMAGE with
     mariadb-server-core) on hablock volumes portainer (2G, 2 copies) and $VOLUME (1G,
     3 copies), which Docker makes through the plugin (--mount ...,volume-driver=$DRIVER,...);
     wp_db's MariaDB database on the volume commits records (number and MD5) one at a time
     (InnoDB, innodb_flush_log_at_trx_commit=1), and only then counts each acknowledged, in
     $ACKS/acked on its VM, outside the volume; a task that starts notes the record it goes
     on from;
  2. the VM running wp_db, which owns the volume by then (locality), is powered off hard
     (vagrant halt --force);
  3. Swarm starts wp_db on another VM; the volume mounts there once the dead node's ZooKeeper
     session has ended, and that VM's node becomes its owner;
  4. the VM is powered on again: its node returns to normal, its engine to the Swarm;
  5. every record acknowledged before the power-off, and since, is in the database, the task
     started after the power-off went on from the last of them, and CHECK TABLE says OK.

It prints docker service ps, docker node ls, hablock node ls, volume ls and events as the
walkthrough does, and the timings. A run first removes the services and volumes of an earlier
run; the services are left running at the end.

Options:
  --run-seconds N   how long wp_db writes before the power-off (default 20)
  --wait SECONDS    longest wait for each step (default 180)
  --cleanup         remove the services and volumes of an earlier run, and exit (do this before
                    ./demo-failure.sh, which writes raw data to $VOLUME)
  -h, --help        this text

Images come from Docker Hub and MariaDB from Debian's mirrors (the VMs need Internet access);
set BASE_IMAGE (a Debian or Ubuntu image) or PORTAINER_IMAGE to use others.
EOF
}

run_seconds=20
wait_seconds=180
cleanup_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --run-seconds|--wait)
      [ $# -ge 2 ] || { echo "$prog: $1 needs a number of seconds" >&2; exit 2; }
      if [ "$1" = --wait ]; then wait_seconds=$2; else run_seconds=$2; fi
      shift 2 ;;
    --cleanup) cleanup_only=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$prog: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$run_seconds" =~ ^[0-9]+$ ]] || { echo "$prog: --run-seconds needs a number of seconds" >&2; exit 2; }
[[ "$wait_seconds" =~ ^[1-9][0-9]*$ ]] || { echo "$prog: --wait needs a number of seconds" >&2; exit 2; }

step() { printf '\n== %s\n' "$*"; }
fail() { echo "$prog: $*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# The command line the VM's shell gets: run as root, each word quoted.
remote() {
  local word line=sudo
  for word in "$@"; do
    line+=" $(printf '%q' "$word")"
  done
  printf '%s' "$line"
}

# Runs a command on a VM as root, showing it first (on stderr) as the walkthrough does.
on() {
  local vm=$1
  shift
  printf 'root@%s:~# %s\n' "$vm" "$*" >&2
  vagrant ssh "$vm" --no-tty -c "$(remote "$@")"
}

# Runs a command on a VM as root for this script's own use: its output, no echo, stderr dropped.
ask() {
  local vm=$1
  shift
  vagrant ssh "$vm" --no-tty -c "$(remote "$@")" 2>/dev/null
}

# A field of `hablock volume info NAME --json`, asked on VM $1.
volume_field() {
  ask "$1" hablock volume info "$2" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3" 2>/dev/null
}

# The status of hablock node $2 (normal, maintenance, ...), asked on VM $1.
node_status() {
  ask "$1" hablock node ls --json |
    python3 -c 'import json, sys; print(next((n["status"] for n in json.load(sys.stdin) if n["name"] == sys.argv[1]), ""))' \
      "$2" 2>/dev/null
}

# The VM where service $2 has a running task, asked on VM $1 (empty when none).
running_on() {
  ask "$1" docker service ps "$2" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' |
    awk '$2 == "Running" { print $1; exit }'
}

# The volume drivers engine $1 has used since it started.
volume_drivers() {
  ask "$1" docker info --format '{{range .Plugins.Volume}}{{.}} {{end}}'
}

# The first VM that is not $1.
other_than() {
  local vm
  for vm in "${VMS[@]}"; do
    if [ "$vm" != "$1" ]; then
      echo "$vm"
      return
    fi
  done
}

# Conditions to wait for, asked on VM $watcher.
node_is() { [ "$(node_status "$watcher" "$1")" = "$2" ]; }
volume_is() { [ "$(volume_field "$watcher" "$VOLUME" health)" = "$1" ]; }
owned_by() { [ "$(volume_field "$watcher" "$VOLUME" owner)" = "$1" ]; }
service_running() { [ -n "$(running_on "$watcher" "$1")" ]; }
swarm_ready() {
  ask "$watcher" docker node ls --format '{{.Hostname}} {{.Status}}' | grep -qx "$1 Ready"
}
uses_driver() { volume_drivers "$1" | grep -qwF "$DRIVER"; }
volume_gone() {
  ask "$watcher" docker volume rm "$1" >/dev/null || true
  ! ask "$watcher" hablock volume info "$1" >/dev/null
}
service_gone() { ! ask "$watcher" docker service inspect "$1" >/dev/null; }

# Runs the command "$2..." every 2 s until it succeeds; fails after wait_seconds.
wait_for() {
  local what=$1 start
  shift
  start=$(now)
  until "$@"; do
    if [ "$(secs "$start" "$(now)" | cut -d. -f1)" -ge "$wait_seconds" ]; then
      fail "gave up after ${wait_seconds} s waiting for $what"
    fi
    sleep 2
  done
  echo "($what after $(secs "$start" "$(now)") s)"
}

# Removes the services and volumes of an earlier run (volumes made by demo-failure.sh too).
cleanup() {
  local service volume vm removed=()
  for service in wp_db portainer; do
    if ask "$watcher" docker service inspect "$service" >/dev/null; then
      on "$watcher" docker service rm "$service"
      removed+=("$service")
    fi
  done
  for service in "${removed[@]}"; do
    wait_for "service $service removed" service_gone "$service"
  done
  # Removal is refused while a host still has the volume mounted: its containers are stopping.
  for volume in "$VOLUME" portainer; do
    if ask "$watcher" hablock volume info "$volume" >/dev/null; then
      printf 'root@%s:~# %s\n' "$watcher" "docker volume rm $volume" >&2
      wait_for "volume $volume removed" volume_gone "$volume"
    fi
  done
  for vm in "${VMS[@]}"; do
    ask "$vm" rm -rf "$ACKS"
  done
}

command -v vagrant >/dev/null || fail "vagrant is not installed"
command -v python3 >/dev/null || fail "python3 is needed (it parses hablock's JSON and checks the records)"
running=$(vagrant status --machine-readable | grep -c ',state,running$' || true)
[ "$running" -eq 4 ] || fail "$running of 4 VMs are running: start them with 'vagrant up' first"
watcher=v1

ready=$(ask v1 docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' | grep -c ' Ready ' || true)
[ "$ready" -eq 4 ] || fail "the Swarm has $ready ready engines of 4 on v1 (provision the VMs: vagrant provision)"

if [ "$cleanup_only" = 1 ]; then
  step "Remove the services and volumes of the demo"
  cleanup
  on v1 docker service ls
  on v1 hablock volume ls
  exit 0
fi

step "1. Four nodes, v1..v3 also the ZooKeeper ensemble; their Docker engines one Swarm"
on v1 hablock node ls
on v1 docker node ls
for vm in "${VMS[@]}"; do
  [ "$(node_status v1 "$vm")" = normal ] || fail "hablock node $vm is not normal (hablock node ls on v1)"
  if ! uses_driver "$vm"; then
    # The role's hablock-docker-activate unit does this at boot.
    echo "the engine on $vm has not used the $DRIVER driver since it started: using it now"
    on "$vm" docker volume ls --filter "driver=$DRIVER"
  fi
done

step "2. Remove what an earlier run left; pull the images on every VM, make wp_db's there"
cleanup
for vm in "${VMS[@]}"; do
  on "$vm" mkdir -p "$ACKS"
  on "$vm" docker pull --quiet "$PORTAINER_IMAGE" >/dev/null
  if ! ask "$vm" docker image inspect "$DB_IMAGE" >/dev/null; then
    on "$vm" docker pull --quiet "$BASE_IMAGE" >/dev/null
    ask "$vm" docker rm -f hablock-demo-build >/dev/null || true
    on "$vm" docker run --name hablock-demo-build "$BASE_IMAGE" sh -c \
      'apt-get update -qq && apt-get install -y -qq --no-install-recommends mariadb-server-core mariadb-client-core >/dev/null && rm -rf /var/lib/apt/lists/*'
    on "$vm" docker commit hablock-demo-build "$DB_IMAGE" >/dev/null
    on "$vm" docker rm hablock-demo-build >/dev/null
  fi
done

step "3. Services portainer and wp_db on hablock volumes (Docker makes them through the plugin)"
# The database: MariaDB, the same program as bench/swarm-demo.sh's (../bench/wp_db-mariadb.sh):
# one committed row (N, MD5 of "record-N") per record, only then counted acknowledged outside the
# volume; each task first notes the row it goes on from.
writer=$(cat ../bench/wp_db-mariadb.sh)
on v1 docker service create --detach --quiet --no-resolve-image --name portainer --publish 9000:9000 \
  --mount "type=volume,source=portainer,target=/data,volume-driver=$DRIVER,volume-opt=size=2G,volume-opt=copies=2" \
  "$PORTAINER_IMAGE"
on v1 docker service create --detach --quiet --no-resolve-image --name wp_db --hostname '{{.Node.Hostname}}' \
  --mount "type=volume,source=$VOLUME,target=/var/lib/mysql,volume-driver=$DRIVER,volume-opt=size=1G,volume-opt=copies=3" \
  --mount "type=bind,source=$ACKS,target=/acks" \
  "$DB_IMAGE" sh -c "$writer"
wait_for "wp_db running" service_running wp_db
wait_for "portainer running" service_running portainer
on v1 docker service ls
on v1 hablock volume ls
victim=$(running_on v1 wp_db)
[ -n "$victim" ] || fail "wp_db runs nowhere"
[ -n "${IP[$victim]:-}" ] || fail "wp_db runs on '$victim', which is none of ${VMS[*]}"
on v1 docker service ps wp_db
wait_for "$VOLUME owned by $victim, where wp_db runs (locality)" owned_by "$victim"
on v1 hablock volume ls
echo "wp_db runs on $victim, whose node owns $VOLUME now; it writes for ${run_seconds} s"
sleep "$run_seconds"
acked_before=$(ask "$victim" cat "$ACKS/acked") || fail "no $ACKS/acked on $victim: wp_db acknowledged nothing"
echo "records acknowledged so far: $acked_before"

step "4. Power off $victim, where wp_db runs (vagrant halt --force)"
watcher=$(other_than "$victim")
vagrant halt --force "$victim"
t_off=$(now)
# One ssh session that polls every 0.5 s: the time it returns is the time wp_db runs again.
printf 'root@%s:~# %s\n' "$watcher" "docker service ps wp_db   # until it runs on another node" >&2
# shellcheck disable=SC2016 # expanded by the VM's shell
new=$(ask "$watcher" sh -c 'end=$(($(date +%s) + $1)); while [ "$(date +%s)" -lt "$end" ]; do
    n=$(docker service ps wp_db --filter desired-state=running --format "{{.Node}} {{.CurrentState}}" 2>/dev/null |
      grep " Running" | grep -v "^$2 " | cut -d" " -f1 | head -n 1)
    if [ -n "$n" ]; then echo "$n"; exit 0; fi; sleep 0.5; done; exit 1' sh "$wait_seconds" "$victim") ||
  fail "gave up after ${wait_seconds} s waiting for wp_db to run on another node than $victim"
t_back=$(now)
[ -n "${IP[$new]:-}" ] || fail "wp_db runs on '$new', which is none of ${VMS[*]}"
echo "wp_db running again on $new, $(secs "$t_off" "$t_back") s after $victim was powered off"
on "$watcher" docker service ls
on "$watcher" docker service ps wp_db
on "$watcher" docker node ls
wait_for "hablock node $victim in maintenance" node_is "$victim" maintenance
on "$watcher" hablock node ls
refused=$(ask "$watcher" docker service ps wp_db --no-trunc --format '{{.Error}}' | grep -c 'is mounted on' || true)
echo "mounts the plugin refused while $victim's ZooKeeper session lived: $refused"

step "5. $VOLUME moves to $new, where wp_db runs now"
wait_for "$VOLUME owned by $new (locality)" owned_by "$new"
t_local=$(now)
on "$watcher" hablock volume ls

step "6. Power $victim on again: it rejoins"
vagrant up --no-provision "$victim"
t_on=$(now)
wait_for "hablock node $victim normal" node_is "$victim" normal
wait_for "engine $victim Ready in the Swarm" swarm_ready "$victim"
# The role's hablock-docker-activate unit makes the engine use the driver at boot: without it,
# Swarm would place no task needing the driver on this VM.
wait_for "engine $victim using the $DRIVER driver (hablock-docker-activate at boot)" uses_driver "$victim"
t_rejoined=$(now)
on "$watcher" docker node ls
on "$watcher" hablock node ls
wait_for "$VOLUME healthy" volume_is healthy
on "$watcher" hablock volume ls
on "$watcher" hablock events -n 40

step "7. Every acknowledged record is in $VOLUME"
# The acknowledgements on $victim's own disk, made durable by each record's sync: what it had
# acknowledged when it died (at most the last record may not have reached its disk).
acked_victim=$(ask "$victim" cat "$ACKS/acked") || fail "cannot read $ACKS/acked on $victim"
container=$(ask "$new" docker ps --quiet --filter label=com.docker.swarm.service.name=wp_db | head -n 1)
[ -n "$container" ] || fail "no wp_db container on $new"
acked_now=$(ask "$new" cat "$ACKS/acked") || fail "no $ACKS/acked on $new: the new wp_db acknowledged nothing"
rows=$(mktemp)
starts=$(mktemp)
trap 'rm -f "$rows" "$starts"' EXIT
# Read inside the container, through the server: wp_db goes on writing meanwhile.
on "$new" docker exec "$container" mariadb -S /run/mysqld/s.sock -N -B -e "SELECT i, h FROM wp.r" >"$rows"
on "$new" docker exec "$container" mariadb -S /run/mysqld/s.sock -N -B -e \
  "SELECT at, host, t FROM wp.resumes ORDER BY n" >"$starts"
echo "($(wc -l <"$rows") records, $(wc -l <"$starts") task starts)"
check=$(ask "$new" docker exec "$container" mariadb -S /run/mysqld/s.sock -N -B -e "CHECK TABLE wp.r EXTENDED" |
  awk '{ print $NF }')
echo "CHECK TABLE wp.r EXTENDED: $check"
[ "$check" = OK ] || fail "the table is damaged: $check"
python3 - "$rows" "$starts" "$victim" "$acked_before" "$acked_victim" "$acked_now" <<'EOF' || fail "acknowledged records are missing or corrupt"
import hashlib, sys

rows_path, starts_path, victim = sys.argv[1:4]
acked_before, acked_victim, acked_now = (int(a) for a in sys.argv[4:7])
# Everything the old task acknowledged: what this script read before the power-off, and what
# reached the old VM's disk.
bound = max(acked_before, acked_victim)
seen = {}
for line in open(rows_path):
    i, _, h = line.rstrip("\n").partition("\t")
    seen[int(i)] = h
problems = []
starts = [line.rstrip("\n").split("\t") for line in open(starts_path) if line.strip()]
# The tasks that started after the last one on the victim.
own = [k for k, (_, host, _) in enumerate(starts) if host == victim]
later = [(int(at), host) for at, host, _ in starts[own[-1] + 1:]] if own else []
if not own:
    problems.append(f"no wp_db task on {victim} noted its start")
elif not later:
    problems.append(f"no wp_db task noted a start after the one on {victim}")
for at, host in later:
    print(f"wp_db on {host} went on from record {at} ({bound} acknowledged on {victim}: {acked_before} when this "
          f"script last looked, {acked_victim} on its disk)")
    if at < bound:
        problems.append(f"records {at + 1}..{bound}, acknowledged on {victim}, were lost")
missing = [i for i in range(1, max(bound, acked_now) + 1)
           if seen.get(i) != hashlib.md5(f"record-{i}\n".encode()).hexdigest()]
print(f"acknowledged now: {acked_now} records; in the database: {len(seen)}; missing or corrupt: {len(missing)}")
if missing:
    problems.append(f"{len(missing)} acknowledged records missing or corrupt, the first {missing[:5]}")
for p in problems[:20]:
    print("FAIL: " + p)
sys.exit(1 if problems else 0)
EOF
echo
echo "timings: wp_db running again on $new $(secs "$t_off" "$t_back") s after $victim was powered off;" \
  "$VOLUME owned by $new after $(secs "$t_off" "$t_local") s; $victim back (node normal, engine in the Swarm" \
  "and using the driver) $(secs "$t_on" "$t_rejoined") s after vagrant up returned"
echo "demo passed: $victim failed, wp_db and $VOLUME moved to $new, no acknowledged record lost, $victim is back"
echo "(the services keep running: ./$prog --cleanup removes them and their volumes)"
