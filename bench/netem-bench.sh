#!/usr/bin/env bash
# netem-bench.sh: what 3 copies add to a 4 KiB QD1 write when the nodes are separate hosts on a
# data-centre network: ZooKeeper and 3 hablock nodes in network namespaces of their own, joined by
# a bridge, every link delayed with tc netem. Run with --help; see bench/README.md for how to read it.
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
prog=netem-bench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cmdline="$(printf '%q ' "$0" "$@")"; cmdline="${cmdline% }"

size_arg=256M rows_arg=rand-write-qd1 # this bench's defaults (lib.sh's are 1G and all rows)
delay_us=100 subnet=10.98.0 ns_prefix="netem$$" client=local

usage() {
  cat <<EOF
Usage: bench/netem-bench.sh [options]

Measures what replication adds to a write's latency when the copies are on other hosts: starts
ZooKeeper and hablock nodes v1..v3 ('hablock zookeeper', 'hablock server'), each in a network
namespace of its own, joined by a bridge that lives in a namespace too, with 'tc qdisc add dev
eth0 root netem delay DELAY' on every host's link (each packet waits DELAY on its way out, so a
round trip between two hosts takes 2 x DELAY: 0.2 ms by default, a data centre). Creates a
1-copy volume n1 and a 3-copy volume n3 owned by the same node (n1 is moved there when it was
placed elsewhere), fills both through NBD, then drives each through that owner with fio's nbd
engine, 4 KiB random writes at QD1 for --runtime seconds, in alternating order (round 1: n1 n3,
round 2: n3 n1, ...). The table shows the medians over the rounds of fio's completion latency
p50/p99 for each volume, the difference (what the 3 copies add), and the issue's target: at
most one round trip + 60 us (the owner writes both other copies in parallel).

Options:
  --delay US        netem delay per host link and direction, in microseconds (default 100);
                    0: no netem at all (for a kernel without sch_netem: the same topology,
                    the links' own latency only)
  --client local|remote
                    local (default): fio runs in the owner's namespace and reaches it on its own
                    address, as an application on the owner's host does (hablock's host
                    endpoint); remote: fio runs in a client namespace of its own with a delayed
                    link too, so both volumes pay one more round trip
  --size SIZE       size of each volume and working set (default 256M; a multiple of 1M)
  --runtime SEC     seconds per fio job, time_based (default 10)
  --warmup SEC      every row on each volume for SEC seconds first, unrecorded (default 3)
  --rounds N        rounds, the order alternating (default 2)
  --rows LIST       fio rows (default rand-write-qd1; names as in cluster-bench.sh:
                    seq-write seq-read rand-read-qd1 rand-write-qd1 rand-read-qd32 rand-write-qd32)
  --cpus on|off     on: ZooKeeper and the nodes on CPU 1, fio on CPU 0, with taskset (default
                    when nproc >= 2); off: no pinning
  --subnet A.B.C    the namespaces' /24, which exists only inside them (default $subnet)
  --netns-prefix P  namespace names P-br, P-zk, P-n1.. (default netem<pid>)
  --keep            leave the namespaces, processes and tmpfs for a look (prints how to remove them)
  -h, --help        this help

Needs: root (namespaces, tmpfs), iproute2 (ip, tc) and a kernel with the netem qdisc
(CONFIG_NET_SCH_NETEM; 'modprobe sch_netem'), fio with the nbd engine, java 17, jq, taskset,
curl (optional: the owner's write and replication times from its metrics), ping (optional: the
network round trip), and cli/target/hablock.jar (run './hablock --help' once to build it).
Raw fio JSON, node logs and the table go to bench/results/<timestamp>-netem/. Namespaces,
processes and the tmpfs are removed at the end, also on failure and Ctrl-C.
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --delay) [ -n "${2:-}" ] || die "--delay needs a value"; delay_us="$2"; shift 2 ;;
    --delay=*) delay_us="${1#*=}"; shift ;;
    --client) [ -n "${2:-}" ] || die "--client needs local or remote"; client="$2"; shift 2 ;;
    --client=*) client="${1#*=}"; shift ;;
    --subnet) [ -n "${2:-}" ] || die "--subnet needs a value"; subnet="$2"; shift 2 ;;
    --subnet=*) subnet="${1#*=}"; shift ;;
    --netns-prefix) [ -n "${2:-}" ] || die "--netns-prefix needs a value"; ns_prefix="$2"; shift 2 ;;
    --netns-prefix=*) ns_prefix="${1#*=}"; shift ;;
    *)
      common_option "$@" || { echo "$prog: unknown option '$1'" >&2; usage >&2; exit 2; }
      shift "$nshift" ;;
  esac
done
check_common_options
check_cpus
select_rows
[[ "$delay_us" =~ ^[0-9]+$ ]] || die "--delay must be a whole number of microseconds"
[[ "$subnet" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "--subnet must be the first three octets, like 10.98.0"
[[ "$ns_prefix" =~ ^[A-Za-z0-9_-]{1,20}$ ]] || die "--netns-prefix must be 1-20 letters, digits, - or _"
case "$client" in local|remote) ;; *) die "--client must be local or remote" ;; esac

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, tmpfs)"
check_prerequisites "ip|ip (apt-get install iproute2)" "tc|tc (apt-get install iproute2)" \
  "fio|fio (apt-get install fio)" "java|java 17 (apt-get install openjdk-17-jdk-headless)" "jq|jq (apt-get install jq)"
use_curl=0 use_ping=0
if command -v curl >/dev/null; then use_curl=1; else note "curl is missing: no owner write and replication times (apt-get install curl)"; fi
if command -v ping >/dev/null; then use_ping=1; else note "ping is missing: the network round trip is not measured (apt-get install iputils-ping)"; fi
if [ "$cpus" = on ]; then pin_cluster=(taskset -c 1) pin_client=(taskset -c 0); else pin_cluster=() pin_client=(); fi
for ns in "$ns_prefix-br" "$ns_prefix-zk" "$ns_prefix-n1" "$ns_prefix-n2" "$ns_prefix-n3" "$ns_prefix-c"; do
  [ ! -e "/var/run/netns/$ns" ] || die "network namespace $ns exists already (another run? 'ip netns list'; or --netns-prefix)"
done

# ---------------------------------------------------------------- work space, cleanup
make_workspace -netem
zk_addr="$subnet.1:2181" client_ip="$subnet.100"
if [ "$delay_us" -gt 0 ]; then
  delay_text="netem delay $delay_us us on every host's link and direction (round trip $((2 * delay_us)) us)"
else
  delay_text="no netem (--delay 0): the links' own latency only"
fi
node_names=(v1 v2 v3)
declare -A node_ip node_ns node_pid
for k in 1 2 3; do node_ip[v$k]="$subnet.$((10 + k))" node_ns[v$k]="$ns_prefix-n$k"; done
namespaces=() pids=() child_pid="" zk_pid=""

# Long-running children run in the background and are waited for, so that Ctrl-C stops the
# script at once (see cluster-prelude.sh).
run_child() {
  "$@" &
  child_pid=$!
  local rc=0
  wait "$child_pid" || rc=$?
  child_pid=""
  return "$rc"
}
in_ns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; } # runs a command "on" a host
hablock() { in_ns "$ns_prefix-zk" java -jar "$jar" "$@" --zk "$zk_addr"; } # the CLI, on the ZooKeeper host

stop_processes() { # SIGTERM to everything started, by pid; SIGKILL to what is left after 10 s
  local p i
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do
    for p in "${pids[@]}"; do if alive "$p"; then sleep 0.1; continue 2; fi; done
    break
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
cleanup() {
  local rc=$? ns i
  trap - EXIT
  trap '' INT TERM # finish cleaning up even when signalled again
  if [ -n "$child_pid" ]; then kill -TERM "$child_pid" 2>/dev/null || true; wait "$child_pid" 2>/dev/null || true; fi
  if [ -n "${data:-}" ]; then cp "$data"/*.log "$out/" 2>/dev/null || true; fi
  if [ "$keep" = 1 ]; then
    note "kept: processes ${pids[*]:-none}, namespaces ${namespaces[*]:-none}, data in ${data:-?}"
    note "remove with: kill ${pids[*]:-}; for p in ${pids[*]:-}; do while kill -0 \$p 2>/dev/null; do sleep 1; done; done; for n in ${namespaces[*]:-}; do ip netns del \$n; done$([ "$mounted" = 1 ] && echo "; umount $mnt")$([ -n "$shm_dir" ] && echo "; rm -rf $shm_dir"); rm -rf $tmp"
  else
    stop_processes
    for ((i = ${#namespaces[@]} - 1; i >= 0; i--)); do
      ns="${namespaces[$i]}"
      ip netns del "$ns" 2>/dev/null || note "could not remove network namespace $ns"
    done
    remove_workspace
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the network
add_ns() { namespaces+=("$1"); ip netns add "$1"; ip -n "$1" link set lo up; }
attach() { # namespace bridge-port address: a veth from the bridge to eth0 in the namespace, delayed
  local ns="$1" port="$2" addr="$3"
  add_ns "$ns"
  ip link add "$port" netns "$ns_prefix-br" type veth peer name eth0 netns "$ns"
  ip -n "$ns_prefix-br" link set "$port" master br0 up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  if [ "$delay_us" -gt 0 ]; then
    ip netns exec "$ns" tc qdisc add dev eth0 root netem delay "${delay_us}us" 2>"$tmp/tc.err" ||
      die "cannot add the netem qdisc ('tc qdisc add dev eth0 root netem delay ${delay_us}us' in $ns: $(head -c 200 "$tmp/tc.err")).
This kernel probably has no netem (CONFIG_NET_SCH_NETEM; try 'modprobe sch_netem'). Run on a kernel with it, or with --delay 0 for the same topology without the delay."
  fi
}
note "creating the network: namespaces $ns_prefix-*, subnet $subnet.0/24, $delay_text"
add_ns "$ns_prefix-br"
ip -n "$ns_prefix-br" link add br0 type bridge
ip -n "$ns_prefix-br" link set br0 up
attach "$ns_prefix-zk" pzk "$subnet.1"
for k in 1 2 3; do attach "$ns_prefix-n$k" "pn$k" "${node_ip[v$k]}"; done
if [ "$client" = remote ]; then attach "$ns_prefix-c" pc "$client_ip"; fi

# Data directories on a fresh tmpfs: no disk in the figures (1 + 3 copies).
need=$((4 * size_bytes + (512 << 20)))
avail_mem=$(($(awk '/^MemAvailable/ {print $2}' /proc/meminfo) * 1024))
[ "$avail_mem" -ge $((need + (1 << 30))) ] ||
  die "--size $size_arg needs about $(((need >> 20) + 1024)) MiB of free RAM (4 copies on tmpfs + the JVMs); $((avail_mem >> 20)) MiB available"
mount_tmpfs "$need"
data="$fs_dir"
check_space "$data" 4

# ---------------------------------------------------------------- the cluster
start_host() { # namespace log command...: in the background, pinned like the cluster; sets started
  local ns="$1" log="$2"
  shift 2
  # ip netns exec and taskset exec the command: the pid is java's
  ip netns exec "$ns" "${pin_cluster[@]}" "$@" </dev/null >"$log" 2>&1 &
  started=$!
  pids+=("$started")
}
check_servers() { # hook of run_fio in lib.sh: dies with a clear message when a process is gone
  local v
  for v in "${!node_pid[@]}"; do
    alive "${node_pid[$v]}" || { tail -5 "$data/$v.log" >&2; die "node $v (pid ${node_pid[$v]}) exited; log: $out/$v.log"; }
  done
  [ -z "$zk_pid" ] || alive "$zk_pid" || die "ZooKeeper (pid $zk_pid) exited; log: $out/zookeeper.log"
}
wait_for() { # seconds what command...: polls every 0.5 s until the command succeeds
  local limit="$1" what="$2" i
  shift 2
  for ((i = 0; i < limit * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    check_servers
    sleep 0.5
  done
  die "timed out after $limit s waiting for $what"
}
nodes_live() { [ "$(hablock node ls --json 2>/dev/null | jq 'length')" = 3 ]; }

machine_info
{
  echo "command: $cmdline"
  echo "machine: nproc=$ncpu, kernel $kernel, ${cpu_model:-unknown cpu}, ${mem_total:-? GiB}"
  echo "software: $java_version; $fio_version; hablock $git_rev"
  echo "setup: ZooKeeper and nodes v1-v3 in network namespaces $ns_prefix-* on a bridge ($subnet.0/24), $delay_text, fio $([ "$client" = local ] && echo "in the owner's namespace" || echo "in namespace $ns_prefix-c"), data dirs on $fs_type"
  echo "runs: size=$size_arg per volume, runtime=${runtime}s per job, warm-up=${warmup}s per row and volume, rounds=$rounds, pinning=$cpus$([ "$cpus" = on ] && echo ' (ZooKeeper and all nodes: CPU 1, fio: CPU 0)')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/meta.txt"
cat "$out/meta.txt"

note "starting ZooKeeper and 3 nodes"
start_host "$ns_prefix-zk" "$data/zookeeper.log" java -Xmx128m -jar "$jar" zookeeper --data-dir "$data/zookeeper" --listen "$zk_addr"
zk_pid=$started
for v in "${node_names[@]}"; do
  # the arguments 'hablock cluster up' gives its nodes, on the namespace's address
  start_host "${node_ns[$v]}" "$data/$v.log" java -Xmx256m -XX:MaxDirectMemorySize=512m -jar "$jar" server \
    --data-dir "$data/$v" --name "$v" --listen "${node_ip[$v]}:10809" --zk "$zk_addr" --session-timeout 5s
  node_pid[$v]=$started
done
wait_for 120 "3 live nodes (hablock node ls)" nodes_live

volume_json() { hablock volume info "$1" --json; }
owner_of() { volume_json "$1" | jq -r .owner; }
run_child hablock volume create n3 --size "${size_mib}M" --copies 3 --json >"$out/volume-n3.json" 2>"$tmp/create.err" ||
  { cat "$tmp/create.err" >&2; die "hablock volume create n3 --copies 3 failed"; }
run_child hablock volume create n1 --size "${size_mib}M" --copies 1 --json >"$out/volume-n1.json" 2>"$tmp/create.err" ||
  { cat "$tmp/create.err" >&2; die "hablock volume create n1 --copies 1 failed"; }
owner="$(jq -r .owner "$out/volume-n3.json")"
[ -n "${node_ip[$owner]:-}" ] || die "volume n3: owner '$owner' is not one of the nodes"
if [ "$(jq -r .owner "$out/volume-n1.json")" != "$owner" ]; then
  note "moving n1 to $owner, the owner of n3"
  run_child hablock volume move n1 --to "$owner" --timeout 5m >"$out/move-n1.log" 2>&1 ||
    { cat "$out/move-n1.log" >&2; die "hablock volume move n1 --to $owner failed"; }
fi
[ "$(owner_of n1)" = "$owner" ] || die "volume n1 is not owned by $owner after the move"
owner_ns="${node_ns[$owner]}"
note "volumes n1 (1 copy) and n3 (3 copies), both owned by $owner (${node_ip[$owner]})"
declare -A vol_uri
for vol in n1 n3; do vol_uri[$vol]="nbd://${node_ip[$owner]}:10809/$vol"; done
uri_of() { echo "${vol_uri[$1]}"; } # hook of warm_up in lib.sh
fio_via=(run_child ip netns exec "$([ "$client" = local ] && echo "$owner_ns" || echo "$ns_prefix-c")")

metrics() { # volume: the owner's write and replication latency sums ("wsum wcount rsum rcount")
  if [ "$use_curl" = 0 ]; then echo "0 0 0 0"; return; fi
  { in_ns "$owner_ns" curl -s -m 3 "http://${node_ip[$owner]}:10812/metrics" 2>/dev/null || true; } | metric_sums "$1"
}
check_health() { # warn when a copy fell out of sync or a volume moved: later figures would not measure this
  local when="$1" bad
  if ! hablock volume ls --json >"$tmp/vols.json" 2>"$tmp/vols.err"; then
    note "warning: hablock volume ls failed ($when): $(head -c 200 "$tmp/vols.err")"; return
  fi
  bad="$(jq -r --arg o "$owner" '.[] | select(.health != "healthy" or .owner != $o) | "\(.name) \(.health) owner \(.owner)"' "$tmp/vols.json")"
  if [ -n "$bad" ]; then
    note "WARNING ($when): $bad"
    echo "$when: $bad" >>"$out/health-warnings.txt"
  fi
}
rtt_us() { # mean ping round trip from the owner to another node, in us ("-" without ping)
  local other
  if [ "$use_ping" = 0 ]; then echo -; return; fi
  for other in "${node_names[@]}"; do [ "$other" = "$owner" ] || break; done
  in_ns "$owner_ns" ping -n -q -c 20 -i 0.05 "${node_ip[$other]}" 2>/dev/null |
    awk -F'[/ =]+' '/^rtt|^round-trip/ { printf "%.0f (min %.0f, max %.0f)", $7 * 1000, $6 * 1000, $8 * 1000 }' || echo -
}

note "filling the volumes through NBD (sequential 1 MiB writes)"
for vol in n1 n3; do
  run_fio "prep-fill-$vol" "${vol_uri[$vol]}" write 1m 8
done
check_health "after the fill"
warm_up volume n1 n3
rtt="$(rtt_us)"

# results: 1 row 2 volume 3 round 4 value 5 p50us 6 p99us 7 owner's mean write us 8 owner's mean
# replication round trip us 9 CPU % used by other processes
results="$out/runs.tsv"
: >"$results"
n=0 n_runs=$((${#rows[@]} * 2 * rounds))
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=(n1 n3); else order=(n3 n1); fi
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    for vol in "${order[@]}"; do
      n=$((n + 1))
      tag="r$r-$name-$vol"
      read -r busy0 total0 < <(sys_ticks)
      ours0=0; for p in "${pids[@]}"; do ours0=$((ours0 + $(proc_ticks "$p"))); done
      read -r ws0 wc0 rs0 rc0 < <(metrics "$vol")
      run_fio "$tag" "${vol_uri[$vol]}" "$rw" "$bs" "$qd" --time_based --runtime="$runtime"
      read -r ws1 wc1 rs1 rc1 < <(metrics "$vol")
      ours1=0; for p in "${pids[@]}"; do ours1=$((ours1 + $(proc_ticks "$p"))); done
      read -r busy1 total1 < <(sys_ticks)
      check_servers
      read -r value p50 p99 _ fio_ticks < <(fio_result "$out/$tag.json" "$rw" "$unit")
      read -r wlat rlat foreign < <(awk -v ws0="$ws0" -v ws1="$ws1" -v wc=$((wc1 - wc0)) -v rs0="$rs0" -v rs1="$rs1" \
          -v rc=$((rc1 - rc0)) -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) -v ours=$((ours1 - ours0)) \
          -v fio="$fio_ticks" 'BEGIN {
            wl = wc > 0 ? sprintf("%.1f", (ws1 - ws0) / wc * 1e6) : "-"
            rl = rc > 0 ? sprintf("%.1f", (rs1 - rs0) / rc * 1e6) : "-"
            f = total > 0 ? (busy - ours - fio) / total * 100 : 0
            printf "%s %s %.1f\n", wl, rl, f < 0 ? 0 : f }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$vol" "$r" "$value" "$p50" "$p99" "$wlat" "$rlat" "$foreign" >>"$results"
      printf '%s: [%2d/%d] round %d  %-15s %s %10.0f %-5s p50 %6.0f us  p99 %6.0f us  (others used %s%% CPU)\n' \
        "$prog" "$n" "$n_runs" "$r" "$name" "$vol" "$value" "$unit" "$p50" "$p99" "$foreign" >&2
    done
  done
  check_health "after round $r"
done

# ---------------------------------------------------------------- tables
col() { awk -F'\t' -v r="$1" -v t="$2" -v f="$3" '$1 == r && $2 == t { print $f }' "$results" | median; }
{
  echo
  echo "through owner $owner, $delay_text,"
  echo "fio $([ "$client" = local ] && echo "on the owner's host" || echo "on a client host"); medians of $rounds round(s); latency = fio completion latency in us"
  echo "  server write = the owner's mean write time, replication = its mean round trip to a copy (from its metrics)"
  printf '%-16s %-7s %5s %10s %8s %8s %13s %12s\n' row volume unit value p50 p99 "server write" replication
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    for vol in n1 n3; do
      printf '%-16s %-7s %5s %10s %8s %8s %13s %12s\n' "$name" "$vol" "$unit" "$(fmt %.0f "$(col "$name" "$vol" 4)")" \
        "$(fmt %.0f "$(col "$name" "$vol" 5)")" "$(fmt %.0f "$(col "$name" "$vol" 6)")" \
        "$(fmt %.0f "$(col "$name" "$vol" 7)")" "$(fmt %.0f "$(col "$name" "$vol" 8)")"
    done
  done
  echo
  echo "network round trip owner -> copy (ping, mean of 20, us): $rtt"
  if has_row rand-write-qd1; then
    limit=$((2 * delay_us + 60))
    for pct in p50:5 p99:6; do
      d="$(awk -v a="$(col rand-write-qd1 n3 "${pct#*:}")" -v b="$(col rand-write-qd1 n1 "${pct#*:}")" 'BEGIN { if (a != "" && b != "") printf "%.0f", a - b }')"
      echo "target: 3 copies add at most one round trip + 60 us to the QD1 write ${pct%:*}: n3 - n1 = $(fmt %+.0f "$d") us, limit $((2 * delay_us)) + 60 = $limit us: $(awk -v d="$d" -v l="$limit" 'BEGIN { if (d == "") print "not measured"; else if (d <= l) print "MET"; else print "NOT MET" }')"
    done
  else
    echo "target: row rand-write-qd1 not selected"
  fi
  if [ -s "$out/health-warnings.txt" ]; then
    echo "WARNING: a copy fell out of sync or a volume moved during the run (the figures after that are not valid):"
    sed 's/^/  /' "$out/health-warnings.txt"
  else
    echo "copies in sync and owner unchanged: after the fill and after every round"
  fi
  print_load
  echo
  echo "all runs (row, volume, round, MB/s or IOPS, p50 us, p99 us, server write us, replication us, others' CPU %):"
  sort -k1,1 -k2,2 -k3,3n "$results" | awk -F'\t' '{ printf "  %-16s %s r%-2s %10.0f %9.1f %9.1f %8s %8s %5.1f%%\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
  echo
  echo "raw fio JSON and logs: $out"
} | tee "$out/table.txt"
finish_summary
