#!/usr/bin/env bash
# swarm-demo.sh: the walkthrough's failure story on a real Docker Swarm, on one machine. Run with
# --help. Needs root, docker.io, busybox-static, iproute2, util-linux (nsenter, unshare), and
# mmdebstrap (wp_db's MariaDB image, made once) or sqlite3 (--db sqlite).
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
repo="$(cd "$here/.." && pwd)"
prog=swarm-demo.sh

usage() {
  cat <<EOF2
Usage: bench/swarm-demo.sh [--nodes 3|4] [--subnet A.B.C] [--dir DIR] [--run-seconds N] [--keep]
                           [--db mariadb|sqlite] [--classpath CP]

The walkthrough's story, for real: N network namespaces (sw1..swN) on a bridge, each running a
hablock node (v1..vN, with its Docker volume plugin) and a Docker engine; ZooKeeper on the
bridge; the engines joined in a Swarm (all managers). Services 'portainer' and 'wp_db' use
hablock volumes (--mount type=volume,volume-driver=hablock-demo,...). wp_db runs a database,
MariaDB (InnoDB, innodb_flush_log_at_trx_commit=1) or SQLite (synchronous=FULL): it commits
records (sequence number and MD5) one by one, and only then counts each acknowledged (in a file
outside the volume). Then the node running wp_db is power-cycled: every process of its namespace
SIGKILLed and its link cut. Swarm reschedules wp_db, the volume mounts on the new node (whose
node becomes its owner: locality), the old node comes back and rejoins; every acknowledged
record must be in the volume. Prints docker service ps, hablock node ls, volume ls and events
as the walkthrough does, and the timings.

Options:
  --nodes N          3 or 4 (default 4)
  --subnet A.B.C     the bridge's /24 (default 10.77.0)
  --run-seconds N    how long wp_db writes before the power cycle (default 20)
  --dir DIR          data, logs and engines (default bench/results/swarm-demo-<timestamp>)
  --db mariadb|sqlite  wp_db's database (default mariadb: Debian bookworm's mariadb-server-core
                     in an image made with mmdebstrap the first time, kept in
                     \$HABLOCK_BENCH_CACHE, default /var/cache/hablock-bench; sqlite: the
                     host's sqlite3 and its libraries)
  --keep             leave everything running at the end (stop with: $prog --stop DIR)
  --classpath CP     run hablock from these classes (the tests' class path) instead of the
                     jar that ./hablock builds
EOF2
}

nodes=4
subnet=10.77.0
run_seconds=20
dir=""
keep=0
stop_dir=""
classpath=""
db=mariadb
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --subnet) subnet="$2"; shift 2 ;;
    --run-seconds) run_seconds="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --classpath) classpath="$2"; shift 2 ;;
    --db) db="$2"; shift 2 ;;
    --stop) stop_dir="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$prog: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "$prog: $*" >&2; exit 1; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, dockerd, mounts)"
case "$nodes" in 3|4) ;; *) die "--nodes must be 3 or 4" ;; esac
[[ "$subnet" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--subnet must look like 10.77.0"
case "$db" in mariadb|sqlite) ;; *) die "--db must be mariadb or sqlite" ;; esac
for tool in dockerd docker busybox nsenter unshare ip java "$([ "$db" = sqlite ] && echo sqlite3 || echo python3)"; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install docker.io busybox-static sqlite3 iproute2 util-linux openjdk-17-jre-headless)"
done
cache="${HABLOCK_BENCH_CACHE:-/var/cache/hablock-bench}"
mariadb_tar="$cache/mariadb-bookworm-rootfs.tar"
if [ "$db" = mariadb ] && [ ! -s "$mariadb_tar" ]; then
  command -v mmdebstrap >/dev/null || die "mmdebstrap is missing, to make wp_db's MariaDB image (apt-get install mmdebstrap; or --db sqlite)"
fi

driver="hablock-demo"
spec=/etc/docker/plugins/$driver.spec
image="hablock-demo-busybox:1"
db_image="hablock-demo-mariadb:1"
bridge=hbsw0

stop_all() { # dir: stops what a run in dir started, by pid files; removes namespaces and mounts
  local d="$1" k pid shim
  for k in 1 2 3 4; do
    if [ -S "$d/d$k/sock" ]; then
      docker -H "unix://$d/d$k/sock" ps -aq 2>/dev/null | xargs -r docker -H "unix://$d/d$k/sock" rm -f >/dev/null 2>&1 || true
    fi
    for shim in $(pgrep -f "containerd-shim.*$d/d$k/" || true); do
      pkill -9 -P "$shim" 2>/dev/null || true
      kill -9 "$shim" 2>/dev/null || true
    done
    for pid in "$d/d$k/pid" "$d/v$k.pid"; do
      if [ -f "$pid" ]; then kill "$(cat "$pid")" 2>/dev/null || true; fi
    done
  done
  sleep 2
  for k in 1 2 3 4; do
    ip netns pids "hbsw$k" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  if [ -f "$d/zk.pid" ]; then kill "$(cat "$d/zk.pid")" 2>/dev/null || true; fi
  grep -o " $d/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  # The loop devices the nodes' mounts used (their nbdfuse files are gone: losetup shows no path).
  cat "$d"/v*/run/mounts/*.json 2>/dev/null | grep -o '"device":"/dev/loop[0-9]*"' | cut -d'"' -f4 \
    | xargs -r -n1 losetup -d 2>/dev/null || true
  for k in 1 2 3 4; do
    ip netns del "hbsw$k" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  rm -f "$spec"
}

if [ -n "$stop_dir" ]; then
  stop_all "$(readlink -f "$stop_dir")"
  exit 0
fi

if [ -n "$classpath" ]; then
  hablock=(-cp "$classpath" io.hablock.cli.Main)
else
  "$repo/hablock" --version >/dev/null # builds the jar when missing or stale
  hablock=(-jar "$repo/cli/target/hablock.jar")
fi
dir="${dir:-$repo/bench/results/swarm-demo-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$dir"
dir="$(readlink -f "$dir")"
ip link show "$bridge" >/dev/null 2>&1 && die "$bridge exists: another demo runs (or stop it: $prog --stop DIR)"
[ -e "$spec" ] && die "$spec exists: another demo runs (or stop it: $prog --stop DIR)"
[ "$keep" = 1 ] || trap 'stop_all "$dir"' EXIT

secret="$dir/cluster.secret"
zk="$subnet.1:2181"
hb() { java -XX:TieredStopAtLevel=1 "${hablock[@]}" "$@" --zk "$zk" --secret-file "$secret"; }
owner_is() { hb volume info "$1" --json | grep -q "\"owner\" *: *\"$2\""; }
healthy() { hb volume info "$1" --json | grep -q '"health" *: *"healthy"'; }
normal_nodes() { hb node ls 2>/dev/null | grep -c ' normal ' || true; }
all_normal() { [ "$(normal_nodes)" -ge "$1" ]; }
node_normal() { hb node ls | grep -E "^$1 " | grep -q ' normal '; }
task_running() { # engine service: the service has a running task
  d "$1" service ps "$2" --filter desired-state=running --format '{{.CurrentState}}' | grep -q Running
}
running_elsewhere() { # engine service node: a running task on another node than this one
  local n
  n="$(d "$1" service ps "$2" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | awk '$2 == "Running" { print $1 }')"
  [ -n "$n" ] && [ "$n" != "$3" ]
}
swarm_ready() { d "$1" node ls --format '{{.Hostname}} {{.Status}}' | grep -q "^$2 Ready"; }
d() { local k="$1"; shift; docker -H "unix://$dir/d$k/sock" "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
wait_for() { # what seconds command...: polls every 0.5 s
  local what="$1" limit="$2" t=0
  shift 2
  until "$@" >/dev/null 2>&1; do
    sleep 0.5
    t=$((t + 1))
    [ "$t" -lt $((limit * 2)) ] || die "gave up waiting for $what after $limit s (logs in $dir)"
  done
}

say "network: $nodes namespaces on bridge $bridge ($subnet.0/24)"
ip link add "$bridge" type bridge
ip addr add "$subnet.1/24" dev "$bridge"
ip link set "$bridge" up
for k in $(seq 1 "$nodes"); do
  ip netns add "hbsw$k"
  ip link add "hbsw$k-h" type veth peer name eth0 netns "hbsw$k"
  ip link set "hbsw$k-h" master "$bridge" up
  ip -n "hbsw$k" addr add "$subnet.1$k/24" dev eth0
  ip -n "hbsw$k" link set eth0 up
  ip -n "hbsw$k" link set lo up
done

say "ZooKeeper on $zk, credentials in $secret"
java "${hablock[@]}" cluster init --secret-file "$secret" >/dev/null
java -Xmx256m "${hablock[@]}" zookeeper --listen "$zk" --data-dir "$dir/zookeeper" --secret-file "$secret" >"$dir/zookeeper.log" 2>&1 &
echo $! >"$dir/zk.pid"
disown

start_node() { # k: the hablock node vK in namespace hbswK, serving the Docker plugin on its 127.0.0.1
  local k="$1"
  mkdir -p "$dir/v$k"
  nsenter --net="/var/run/netns/hbsw$k" env HABLOCK_RUN_DIR="$dir/v$k/run" \
    java -Xmx256m -XX:MaxDirectMemorySize=512m "${hablock[@]}" server --data-dir "$dir/v$k/data" --name "v$k" \
    --listen "$subnet.1$k:10809" --zk "$zk" --secret-file "$secret" --session-timeout 5s \
    --docker-plugin tcp://127.0.0.1:9191 >>"$dir/v$k.log" 2>&1 &
  echo $! >"$dir/v$k.pid"
  disown # killed on purpose later: no job notice
}

start_engine() { # k: dockerd in namespace hbswK with host name swK
  local k="$1"
  mkdir -p "$dir/d$k"
  unshare --uts sh -c "hostname sw$k && exec nsenter --net=/var/run/netns/hbsw$k dockerd --storage-driver=vfs \
    --iptables=false --ip6tables=false --bridge=none --data-root $dir/d$k/root --exec-root $dir/d$k/exec \
    -H unix://$dir/d$k/sock --pidfile $dir/d$k/pid" >>"$dir/d$k.log" 2>&1 &
  disown
}

say "hablock nodes v1..v$nodes and Docker engines sw1..sw$nodes"
mkdir -p "$(dirname "$spec")"
echo "tcp://127.0.0.1:9191" >"$spec" # each engine reaches the plugin of the node in its own namespace
for k in $(seq 1 "$nodes"); do
  start_node "$k"
  start_engine "$k"
done
rootfs="$dir/busybox-rootfs"
mkdir -p "$rootfs/bin" "$dir/acks"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in sh cat echo ls dd sync md5sum sleep tail grep cut mv date hostname; do ln -sf busybox "$rootfs/bin/$applet"; done
if [ "$db" = sqlite ]; then
  # wp_db's database: the host's sqlite3 and the libraries it loads, at the same paths.
  for f in /usr/bin/sqlite3 $(ldd /usr/bin/sqlite3 | grep -o '/[^ ]*'); do
    mkdir -p "$rootfs$(dirname "$f")"
    cp -L "$f" "$rootfs$f"
  done
  db_image="$image"
elif [ ! -s "$mariadb_tar" ]; then
  say "wp_db's image: Debian bookworm with mariadb-server-core (mmdebstrap, once; kept in $cache)"
  mkdir -p "$cache"
  mmdebstrap --quiet --variant=essential --include=mariadb-server-core,mariadb-client-core \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm "$mariadb_tar.tmp" http://deb.debian.org/debian >"$dir/mmdebstrap.log" 2>&1 ||
    die "mmdebstrap failed (see $dir/mmdebstrap.log; or --db sqlite)"
  mv "$mariadb_tar.tmp" "$mariadb_tar"
fi
activate() { # k: makes engine swK load the plugin, which it reports to Swarm only once it has used it
  d "$1" volume ls -f "driver=$driver" >/dev/null
}
for k in $(seq 1 "$nodes"); do
  wait_for "engine sw$k" 60 d "$k" version
  tar -C "$rootfs" -c . | d "$k" import - "$image" >/dev/null
  if [ "$db" = mariadb ]; then
    d "$k" import "$mariadb_tar" "$db_image" >/dev/null
  fi
done
wait_for "$nodes hablock nodes" 90 all_normal "$nodes"
for k in $(seq 1 "$nodes"); do
  activate "$k"
done

say "Swarm: sw1 initializes it, the others join as managers (a lost node leaves a quorum)"
d 1 swarm init --advertise-addr "$subnet.11" --listen-addr "$subnet.11:2377" >/dev/null
token="$(d 1 swarm join-token -q manager)"
for k in $(seq 2 "$nodes"); do
  d "$k" swarm join --token "$token" --advertise-addr "$subnet.1$k" --listen-addr "$subnet.1$k:2377" "$subnet.11:2377" >/dev/null
done
d 1 node ls

say "services portainer and wp_db on hablock volumes"
d 1 service create --detach --quiet --no-resolve-image --name portainer \
  --mount "type=volume,source=portainer,target=/data,volume-driver=$driver,volume-opt=size=256M,volume-opt=copies=2" \
  "$image" sh -c 'echo portainer >/data/hello; sync; exec sleep 1000000' >/dev/null
# The database: MariaDB (bench/wp_db-mariadb.sh) or SQLite (synchronous=FULL, rollback journal:
# a committed INSERT is on the disk). Each record is a row (N, MD5 of "record-N"), committed on
# its own; only then is N counted acknowledged, in a file outside the volume. After a restart it
# goes on from the database's last row, and first notes that row in table resumes (with its host
# and the time): records lost and written again would otherwise look the same as records kept.
if [ "$db" = mariadb ]; then
  writer="$(cat "$here/wp_db-mariadb.sh")"
else
  # shellcheck disable=SC2016 # expanded by the container's shell
  writer='db=/var/lib/mysql/records.db;
sqlite3 $db "CREATE TABLE IF NOT EXISTS r (i INTEGER PRIMARY KEY, h TEXT NOT NULL); CREATE TABLE IF NOT EXISTS resumes (at INTEGER, host TEXT, t INTEGER)";
i=$(sqlite3 $db "SELECT coalesce(max(i), 0) FROM r");
sqlite3 $db "PRAGMA synchronous=FULL; INSERT INTO resumes VALUES ($i, '"'"'$(hostname)'"'"', $(date +%s))" || exit 1;
while true; do i=$((i+1)); h=$(echo record-$i | md5sum | cut -c1-32);
sqlite3 $db "PRAGMA synchronous=FULL; INSERT INTO r VALUES ($i, '"'"'$h'"'"')" || exit 1;
echo $i >/acks/acked.tmp; mv /acks/acked.tmp /acks/acked; done'
  writer=${writer//$'\n'/ }
fi
d 1 service create --detach --quiet --no-resolve-image --name wp_db --hostname '{{.Node.Hostname}}' \
  --mount "type=volume,source=wp_mysql-data,target=/var/lib/mysql,volume-driver=$driver,volume-opt=size=1G,volume-opt=copies=3" \
  --mount "type=bind,source=$dir/acks,target=/acks" "$db_image" sh -c "$writer" >/dev/null
running_on() { # service: the node (swK) of its running task, if any
  d 1 service ps "$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' 2>/dev/null \
    | awk '$2 == "Running" { print $1; exit }'
}
wait_for "wp_db running" 120 task_running 1 wp_db
wait_for "portainer running" 120 task_running 1 portainer
d 1 service ls
hb node ls
d 1 service ps wp_db
victim="$(running_on wp_db)"
[ -n "$victim" ] || die "wp_db runs nowhere"
k="${victim#sw}"
wait_for "wp_mysql-data owned by v$k, where wp_db runs (locality)" 120 owner_is wp_mysql-data "v$k"
hb volume ls
echo "wp_db runs on $victim (hablock node v$k, which owns its volume now); writing for $run_seconds s"
sleep "$run_seconds"

say "power cycle of $victim: every process of its namespace SIGKILLed, its link cut"
acked_before="$(cat "$dir/acks/acked")"
t_kill="$(now)"
for shim in $(pgrep -f "containerd-shim.*$dir/d$k/" || true); do
  pkill -9 -P "$shim" 2>/dev/null || true
  kill -9 "$shim" 2>/dev/null || true
done
ip netns pids "hbsw$k" | xargs -r kill -9 2>/dev/null || true # some end by themselves meanwhile
ip link set "hbsw$k-h" down
echo "acknowledged records when the node died: $acked_before"

survivor=1
[ "$k" = 1 ] && survivor=2
wait_for "wp_db running on another node" 240 running_elsewhere "$survivor" wp_db "$victim"
t_back="$(now)"
new_node="$(d "$survivor" service ps wp_db --filter desired-state=running --format '{{.Node}}' | head -n 1)"
echo "wp_db running again on $new_node $(secs "$t_kill" "$t_back") s after the power cycle"
committing() { [ "$(cat "$dir/acks/acked")" -gt "$acked_before" ]; }
wait_for "wp_db's database committing again" 180 committing
t_db="$(now)"
echo "wp_db's database committing again $(secs "$t_kill" "$t_db") s after the power cycle"
d "$survivor" service ls
hb node ls
d "$survivor" service ps wp_db
nk="${new_node#sw}"
wait_for "wp_mysql-data owned by v$nk (locality)" 180 owner_is wp_mysql-data "v$nk"
t_local="$(now)"
echo "wp_mysql-data owned by v$nk, where wp_db runs, $(secs "$t_kill" "$t_local") s after the power cycle"
hb volume ls
sleep 5

say "$victim comes back"
ip link set "hbsw$k-h" up
start_node "$k"
start_engine "$k"
wait_for "v$k normal" 120 node_normal "v$k"
wait_for "engine $victim" 60 d "$k" version
activate "$k"
wait_for "$victim Ready in the swarm" 120 swarm_ready "$survivor" "$victim"
t_rejoin="$(now)"
d "$survivor" node ls
hb node ls
wait_for "wp_mysql-data healthy" 180 healthy wp_mysql-data
hb volume ls
hb events -n 40

say "every acknowledged record"
sleep 2
acked="$(cat "$dir/acks/acked")"
# Rows (i, MD5) and task starts (record, host) read from the database as wp_db goes on writing.
if [ "$db" = mariadb ]; then
  c="$(d "$nk" ps -q --filter label=com.docker.swarm.service.name=wp_db | head -n 1)"
  [ -n "$c" ] || die "no wp_db container on $new_node"
  q_db() { d "$nk" exec "$c" mariadb -S /run/mysqld/s.sock -N -B -e "$1"; }
  q_db "SELECT i, h FROM wp.r" >"$dir/rows.txt"
  q_db "SELECT at, host FROM wp.resumes ORDER BY n" >"$dir/starts.txt"
  echo "MariaDB 'CHECK TABLE wp.r EXTENDED': $(q_db "CHECK TABLE wp.r EXTENDED" | awk '{ print $NF }')"
else
  records="$dir/v$nk/run/docker/wp_mysql-data/records.db"
  [ -f "$records" ] || die "no $records: the volume is not mounted on $new_node"
  sqlite3 -cmd '.timeout 10000' -separator $'\t' "$records" "SELECT i, h FROM r" >"$dir/rows.txt"
  sqlite3 -cmd '.timeout 10000' -separator $'\t' "$records" "SELECT at, host FROM resumes ORDER BY rowid" >"$dir/starts.txt"
  echo "sqlite3 $records 'PRAGMA integrity_check': $(sqlite3 -cmd '.timeout 10000' "$records" 'PRAGMA integrity_check')"
fi
missing="$(/usr/bin/python3 - "$dir/rows.txt" "$dir/starts.txt" "$acked" "$acked_before" "$victim" 2>"$dir/resumes.txt" <<'EOF2'
import hashlib, sys
rows, starts_file, acked, acked_before, victim = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
seen = {}
for line in open(rows):
    i, _, h = line.rstrip("\n").partition("\t")
    seen[int(i)] = h
bad = [i for i in range(1, acked + 1)
       if seen.get(i) != hashlib.md5(f"record-{i}\n".encode()).hexdigest()]
# A task started after the power cycle must have found every record acknowledged before it:
# had it found fewer, it would have written the lost ones again, and they would look kept.
# The tasks that started after the last one on the victim:
starts = [line.rstrip("\n").split("\t") for line in open(starts_file) if line.strip()]
own = [k for k, (_, host) in enumerate(starts) if host == victim]
later = [(int(at), host) for at, host in starts[own[-1] + 1:]] if own else []
for at, host in later:
    print(f"wp_db on {host} went on from record {at} ({acked_before} acknowledged when {victim} died)", file=sys.stderr)
if not later:
    print(f"no wp_db task noted a start after the one on {victim}", file=sys.stderr)
lost = sum(1 for at, host in later if at < acked_before)
print(len(bad) + lost + (0 if later else 1))
EOF2
)"
cat "$dir/resumes.txt"
echo "acknowledged: $acked records ($acked_before when $victim died); missing or corrupt: $missing"
echo
echo "timings: wp_db running again on $new_node after $(secs "$t_kill" "$t_back") s, its database committing after" \
  "$(secs "$t_kill" "$t_db") s; the volume owned there after" \
  "$(secs "$t_kill" "$t_local") s; $victim back in the swarm after $(secs "$t_kill" "$t_rejoin") s"
if [ "$missing" != 0 ]; then
  echo "FAIL: $missing acknowledged records missing or corrupt"
  exit 1
fi
echo "PASS: no acknowledged record lost (logs in $dir)"
