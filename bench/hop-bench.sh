#!/usr/bin/env bash
# hop-bench.sh: what the host endpoint's extra hop costs. A 1-copy and a 3-copy volume of a
# 3-node local hablock cluster, each driven through its owner (direct) and through another
# node that forwards every request to the owner (hop), side by side in one run, with fio's
# nbd engine and the same jobs as nbd-bench.sh and cluster-bench.sh.
# Run with --help for what it does; see bench/README.md for how to read the output.
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
prog=hop-bench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cmdline="$(printf '%q ' "$0" "$@")"; cmdline="${cmdline% }"

# Where the cluster lives: kept apart from the default local cluster (127.0.0.11.., ZooKeeper
# 2181), from cluster-bench (127.0.2.11.., 2290) and from the acceptance tests, so that this
# bench can run next to them.
ip_base=127.0.1.10 zk_port=2190
zk="127.0.0.1:$zk_port"
vols=(h1 h3)                                  # h1: 1 copy, h3: 3 copies
targets=(h1-direct h1-hop h3-direct h3-hop)   # round 1 in this order, round 2 reversed, ...
node_ports=(10809 10811 10812)                # NBD, replication, metrics (on each node's address)

usage() {
  cat <<EOF
Usage: bench/hop-bench.sh [options]

Benchmarks the host endpoint's extra hop. Every node serves every volume of the cluster:
the ones it owns itself, the others by forwarding each request to the owner over NBD.
This starts a 3-node local hablock cluster (hablock cluster up --forward) with its data
directories on a fresh tmpfs, creates volumes h1 (1 copy) and h3 (3 copies) of the
working-set size, fills them through NBD, then drives each volume two ways with fio's nbd
engine, the same jobs as nbd-bench.sh and cluster-bench.sh:
  direct  nbd://OWNER:10809/VOL        the owner serves the request itself
  hop     nbd://OTHER:10809/VOL        a node that does not own VOL forwards it to the owner
(for h3 every node holds a copy, but only the owner serves; the others forward). The
targets run in alternating order (round 1: h1-direct h1-hop h3-direct h3-hop, round 2:
the reverse, ...). The tables show medians over the rounds: direct, hop and the ratio
hop/direct per row and volume, the 4 KiB QD1 latency the hop adds, and what a request
costs the nodes in CPU, context switches and syscalls, direct against hop, with the
forwarding node's own part.

Rows: sequential write 1 MiB QD8, sequential read 1 MiB QD8, random read 4 KiB QD1,
random write 4 KiB QD1, random read 4 KiB QD32, random write 4 KiB QD32.
Every row runs --warmup seconds on each target first, unrecorded (the forwarding path
is JIT-compiled too).

How to read it: hop/direct below 1 is what the hop costs; "added" QD1 latency is the
forwarder's work plus one more loopback round trip. All nodes share CPU 1 here (with
pinning), so for CPU-bound rows the hop's throughput pays for the forwarder's CPU and the
owner's on one core: on real hosts the forwarder runs on the client's machine and the
owner on another. bench/README.md explains every column.

Options:
  --size SIZE       working set and size of each volume, binary units: 256M, 1G
                    (default 1G; a multiple of 1M). The tmpfs holds 4 copies of this
                    (1 + 3), so the machine needs about 4x SIZE of free RAM.
  --runtime SEC     seconds per fio job, time_based (default 10)
  --warmup SEC      before measuring, run every selected row for SEC seconds on each
                    target, unrecorded (default 3; 0: none)
  --rounds N        rounds; each round runs every row on the four targets, the order
                    alternating between rounds (default 2)
  --cpus on|off     on: the whole cluster (ZooKeeper and the 3 nodes) on CPU 1, fio on
                    CPU 0, with taskset (default when nproc >= 2); off: no pinning
  --rows LIST       only these rows, comma-separated names or 1-based numbers
                    (names: seq-write seq-read rand-read-qd1 rand-write-qd1
                    rand-read-qd32 rand-write-qd32; default: all)
  --no-perf         do not count the nodes' CPU, context switches and syscalls per request
                    with 'perf stat' (used by default when perf works here)
  --keep            leave the cluster running and the tmpfs mounted after the run, for
                    inspection (the script prints how to stop it)
  -h, --help        this help

The cluster: nodes v1..v3 on ${ip_base%.*}.$((${ip_base##*.} + 1))-$((${ip_base##*.} + 3)) (NBD port 10809, replication 10811,
metrics 10812), ZooKeeper on $zk, started with 'hablock cluster up --nodes 3
--ip-base $ip_base --zk-port $zk_port --forward --dir TMPFS/cluster' and stopped with
'hablock cluster down' (also on failure and Ctrl-C). The ports must be free.

Needs: root (to mount a tmpfs; falls back to /dev/shm otherwise), fio with the nbd engine,
java 17, jq, taskset, curl (for the nodes' metrics; optional), perf (optional), and the
built jar cli/target/hablock.jar (run './hablock --help' once to build it).
Raw fio JSON, node logs, metrics and the tables go to bench/results/<timestamp>-hop/.
A default run takes about 12 minutes.
EOF
}

results_suffix=-hop
curl_missing="no request times from the nodes' metrics and no forwarding check"
# shellcheck source-path=SCRIPTDIR source=cluster-prelude.sh
. "$here/cluster-prelude.sh"
for k in 1 2 3; do
  ip="${ip_base%.*}.$((${ip_base##*.} + k))"
  for port in "${node_ports[@]}"; do
    port_free "$ip" "$port" || die "$ip:$port is in use: another hop-bench running? (see 'ss -ltnp')"
  done
done

# The cluster's data directories on one fresh tmpfs: no disk in the figures.
need=$((4 * size_bytes + (512 << 20)))
avail_mem=$(($(awk '/^MemAvailable/ {print $2}' /proc/meminfo) * 1024))
[ "$avail_mem" -ge $((need + (1 << 30))) ] ||
  die "--size $size_arg needs about $(((need >> 20) + 1024)) MiB of free RAM (4 copies on tmpfs + the JVMs); $((avail_mem >> 20)) MiB available"
mount_tmpfs "$need"
data_root="$fs_dir"
check_space "$data_root" 4
cdir="$data_root/cluster"

# ---------------------------------------------------------------- machine, start
machine_info
n_runs=$((${#rows[@]} * ${#targets[@]} * rounds))
est=$((n_runs * (runtime + 1) + 2 * (size_mib / 100 + 3) + ${#targets[@]} * ${#rows[@]} * (warmup + 1) + 40))

{
  echo "command: $cmdline"
  echo "machine: nproc=$ncpu, kernel $kernel, ${cpu_model:-unknown cpu}, ${mem_total:-? GiB}"
  echo "software: $java_version; $fio_version; hablock $git_rev"
  echo "setup: 3-node local cluster (hablock cluster up --forward: ZooKeeper $zk, nodes v1-v3 on ${ip_base%.*}.$((${ip_base##*.} + 1))-$((${ip_base##*.} + 3)), default node JVM options), volumes h1/h3 with 1/3 copies, each through its owner (direct) and through another node that forwards (hop), data dirs on $fs_type ($cdir)"
  echo "runs: size=$size_arg per volume (working set = volume size), runtime=${runtime}s per job, warm-up=${warmup}s per row and target, rounds=$rounds, pinning=$cpus$([ "$cpus" = on ] && echo ' (ZooKeeper and all nodes: CPU 1, fio: CPU 0)')"
  echo "per-request counters: $([ "$use_perf" = 1 ] && echo "perf stat (task-clock, context-switches, raw_syscalls:sys_enter) on the 3 node processes together" || echo "/proc only (perf not used)"); per node: /proc ticks"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/meta.txt"
cat "$out/meta.txt"
note "$n_runs measured runs, about $((est / 60)) min $((est % 60)) s; results in $out"

# --forward: the nodes serve the volumes they do not own (host endpoint). It is explicit so that
# this works whether forwarding is opt-in or the default of the build.
start_cluster --forward

# owner[vol]: the node that serves vol; via[vol]: the node the hop targets go through (the first
# node that is not the owner). entry[target]: the node fio connects to.
declare -A owner via uri entry
for vol in "${vols[@]}"; do
  c="${vol#h}"
  run_child hablock volume create "$vol" --size "${size_mib}M" --copies "$c" --zk "$zk" --json >"$out/volume-$vol.json" 2>"$tmp/create.err" ||
    { cat "$tmp/create.err" >&2; die "hablock volume create $vol --copies $c failed"; }
  owner[$vol]="$(jq -r .owner "$out/volume-$vol.json")"
  [ -n "${node_ip[${owner[$vol]}]:-}" ] || die "volume $vol: owner '${owner[$vol]}' is not one of the nodes"
  for v in "${node_names[@]}"; do
    if [ "$v" != "${owner[$vol]}" ]; then via[$vol]="$v"; break; fi
  done
  entry[$vol-direct]="${owner[$vol]}" entry[$vol-hop]="${via[$vol]}"
  for t in "$vol-direct" "$vol-hop"; do
    uri[$t]="nbd://${node_ip[${entry[$t]}]}:${node_port[${entry[$t]}]}/$vol"
  done
done
{
  echo "volumes:"
  for vol in "${vols[@]}"; do
    c="${vol#h}"
    echo "  $vol: $c cop$([ "$c" = 1 ] && echo y || echo ies) on $(jq -r '.copyNodes | keys | join(",")' "$out/volume-$vol.json"), owner ${owner[$vol]}; direct ${uri[$vol-direct]}, hop ${uri[$vol-hop]} (${via[$vol]} forwards to ${owner[$vol]})"
  done
} | tee -a "$out/meta.txt"

# ---------------------------------------------------------------- fio
ticks_of() { # CPU ticks of several processes
  local p s=0
  for p in "$@"; do s=$((s + $(proc_ticks "$p"))); done
  echo "$s"
}
metrics() { # node volume op: that node's figures for the volume's op (read, write):
  # "latency-sum-seconds latency-count requests". The forwarding node meters the requests it
  # forwards like its own; the owner counts zero-copy reads but does not time them.
  if [ "$use_curl" = 0 ]; then echo "0 0 0"; return; fi
  { curl -s -m 3 "http://${node_ip[$1]}:10812/metrics" 2>/dev/null || true; } |
    awk -v v="volume=\"$2\"" -v o="op=\"$3\"" '
      index($0, v) == 0 || index($0, o) == 0 { next }
      /^hablock_volume_latency_seconds_sum\{/ { s += $NF }
      /^hablock_volume_latency_seconds_count\{/ { c += $NF }
      /^hablock_volume_ops_total\{/ { n += $NF }
      END { printf "%.9f %d %d\n", s, c, n }'
}
tcp_opens() { # TCP connections this network namespace has opened (ActiveOpens): the forwarder's new
  # connections to the owner show here; the other namespaces' do not
  awk '$1 == "Tcp:" && $6 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp
}
check_health() { # warn when a copy fell out of sync: later figures would measure fewer copies
  local when="$1" bad
  if ! hablock volume ls --zk "$zk" --json >"$tmp/vols.json" 2>"$tmp/vols.err"; then
    note "warning: hablock volume ls failed ($when): $(head -c 200 "$tmp/vols.err")"; return
  fi
  bad="$(jq -r '.[] | select(.health != "healthy") | "\(.name) \(.health) \(.copyNodes | tostring)"' "$tmp/vols.json")"
  if [ -n "$bad" ]; then
    note "WARNING ($when): not every copy is in sync, so these figures measure fewer copies: $bad"
    echo "$when: $bad" >>"$out/health-warnings.txt"
  fi
}
check_owners() { # warn when a volume moved: the direct and hop targets would be wrong from then on
  local when="$1" vol now
  hablock volume ls --zk "$zk" --json >"$tmp/vols.json" 2>/dev/null || return 0
  for vol in "${vols[@]}"; do
    now="$(jq -r --arg n "$vol" '.[] | select(.name == $n) | .owner' "$tmp/vols.json")"
    if [ "$now" != "${owner[$vol]}" ]; then
      note "WARNING ($when): volume $vol is owned by $now now, not ${owner[$vol]}: its direct target forwards too"
      echo "$when: $vol owned by $now, not ${owner[$vol]}" >>"$out/health-warnings.txt"
    fi
  done
}

fio_via=(run_child) # run_fio runs fio in the background and waits for it

note "filling the volumes through their owners (sequential 1 MiB writes)"
for vol in "${vols[@]}"; do
  run_fio "prep-fill-$vol" "${uri[$vol-direct]}" write 1m 8
  note "  $vol: $(jq -r '.jobs[0].write.bw_bytes / 1e6 | floor' "$out/prep-fill-$vol.json") MB/s"
done
check_health "after the fill"

# The forwarding node learns of a new volume from ZooKeeper; until then it refuses it. A short
# read through each hop target, retried for a while, also fails clearly when the nodes do not
# forward at all.
for vol in "${vols[@]}"; do
  t="$vol-hop" ok=0
  for ((i = 0; i < 20; i++)); do
    if run_child "${pin_client[@]}" fio --name="probe-$t" --ioengine=nbd --uri="${uri[$t]}" --rw=read --bs=64k \
        --size=1m --output-format=json >"$tmp/probe.out" 2>&1; then ok=1; break; fi
    sleep 1
  done
  [ "$ok" = 1 ] || { cat "$tmp/probe.out" >&2; die "cannot read $vol through ${via[$vol]} (${uri[$t]}), which should forward to ${owner[$vol]}; see $cdir/${via[$vol]}.log"; }
done
note "forwarding path ok: ${vols[*]} readable through ${via[h1]}/${via[h3]}"

uri_of() { echo "${uri[$1]}"; } # hook of warm_up in lib.sh: h1-hop -> the URI of that target
warm_up target "${targets[@]}"

# results: one line per run:
#  1 row  2 target (h1-direct, h1-hop, h3-direct, h3-hop)  3 round  4 value  5 p50us  6 p99us
#  7 nodes-CPU-us/IO  8 ctxsw/IO  9 foreign-CPU-%  10 syscalls/IO  11 owner-CPU-us/IO
#  12 forwarder-CPU-us/IO (the volume's hop node, also in direct runs)  13 nodes-CPU-% (of one CPU)
#  14 forwarder's share of the nodes' CPU %  15 forwarder's mean request time us
#  16 owner's mean write time us  17 forwarder's device calls per fio request (0 direct, 1 hop; more when
#  a write is forwarded in pieces)  18 TCP connections opened during the run (this network namespace)
results="$out/runs.tsv"
: >"$results"
n=0
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=("${targets[@]}"); else order=(h3-hop h3-direct h1-hop h1-direct); fi
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    op="read"
    if [[ "$rw" == *write* ]]; then op="write"; fi
    for t in "${order[@]}"; do
      n=$((n + 1))
      vol="${t%%-*}"
      tag="r$r-$name-$t"
      opid="${node_pid[${owner[$vol]}]}" fpid="${node_pid[${via[$vol]}]}"
      read -r busy0 total0 < <(sys_ticks)
      ours0="$(ticks_of "${all_pids[@]}")" nodes0="$(ticks_of "${node_pid[@]}")" own0="$(proc_ticks "$opid")" fwd0="$(proc_ticks "$fpid")"
      read -r fs0 fc0 fn0 < <(metrics "${via[$vol]}" "$vol" "$op")
      read -r os0 oc0 _ < <(metrics "${owner[$vol]}" "$vol" "$op")
      opens0="$(tcp_opens)"
      t0="$(date +%s%N)"
      perf_start "$node_pid_list" "$out/$tag.perf" # all threads of the 3 nodes, also threads created during the run
      run_fio "$tag" "${uri[$t]}" "$rw" "$bs" "$qd" --time_based --runtime="$runtime"
      perf_stop
      t1="$(date +%s%N)"
      opens1="$(tcp_opens)"
      nodes1="$(ticks_of "${node_pid[@]}")" own1="$(proc_ticks "$opid")" fwd1="$(proc_ticks "$fpid")" ours1="$(ticks_of "${all_pids[@]}")"
      read -r busy1 total1 < <(sys_ticks)
      read -r fs1 fc1 fn1 < <(metrics "${via[$vol]}" "$vol" "$op")
      read -r os1 oc1 _ < <(metrics "${owner[$vol]}" "$vol" "$op")
      check_servers
      read -r value p50 p99 ios fio_ticks < <(fio_result "$out/$tag.json" "$rw" "$unit")
      read -r p_ms p_cs p_sc < <(perf_counts "$out/$tag.perf")
      read -r cpu_io ctx_io sys_io foreign own_io fwd_io util share flat olat fseen < <(awk \
          -v nt=$((nodes1 - nodes0)) -v ot=$((own1 - own0)) -v ft=$((fwd1 - fwd0)) -v ios="$ios" -v wall_ns=$((t1 - t0)) \
          -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) -v ours=$((ours1 - ours0)) -v fio="$fio_ticks" \
          -v pms="$p_ms" -v pcs="$p_cs" -v psc="$p_sc" -v op="$op" -v metered="$use_curl" \
          -v fs="$(awk -v a="$fs0" -v b="$fs1" 'BEGIN { print b - a }')" -v fc=$((fc1 - fc0)) -v fn=$((fn1 - fn0)) \
          -v os="$(awk -v a="$os0" -v b="$os1" 'BEGIN { print b - a }')" -v oc=$((oc1 - oc0)) 'BEGIN {
            f = 0; c = 0; x = "-"; y = "-"; o = 0; w = 0; u = 0; s = "-"; fl = "-"; ol = "-"; seen = "-"
            if (total > 0) f = (busy - ours - fio) / total * 100
            if (f < 0) f = 0
            if (ios > 0) {
              c = nt * 10000 / ios; o = ot * 10000 / ios; w = ft * 10000 / ios      # /proc: 10 ms ticks
              if (pms ~ /^[0-9.]+$/) c = pms * 1000 / ios                          # perf stat: all threads
              if (pcs ~ /^[0-9]+$/) x = sprintf("%.2f", pcs / ios)
              if (psc ~ /^[0-9]+$/) y = sprintf("%.1f", psc / ios)
              if (metered == 1) seen = sprintf("%.2f", fn / ios)
            }
            if (nt > 0) s = sprintf("%.0f", ft * 100 / nt)
            if (wall_ns > 0) u = (pms ~ /^[0-9.]+$/ ? pms * 1e6 : nt * 1e7) / wall_ns * 100
            if (fc > 0) fl = sprintf("%.1f", fs / fc * 1e6)
            if (oc > 0 && op == "write") ol = sprintf("%.1f", os / oc * 1e6)  # reads sent zero-copy are not timed
            printf "%.1f %s %s %.1f %.1f %.1f %.0f %s %s %s %s\n", c, x, y, f, o, w, u, s, fl, ol, seen }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$t" "$r" "$value" "$p50" "$p99" \
        "$cpu_io" "$ctx_io" "$foreign" "$sys_io" "$own_io" "$fwd_io" "$util" "$share" "$flat" "$olat" "$fseen" \
        $((opens1 - opens0)) >>"$results"
      printf 'hop-bench: [%2d/%d] round %d  %-15s %-9s %10.0f %-5s (nodes: %s CPU-us per request, %s%% of a CPU; forwarder %s%% of it; others used %s%% CPU)\n' \
        "$n" "$n_runs" "$r" "$name" "$t" "$value" "$unit" "$cpu_io" "$util" "$share" "$foreign" >&2
    done
  done
  check_health "after round $r"
  check_owners "after round $r"
done

peak_rss_of_cluster

# ---------------------------------------------------------------- tables
diff_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "") printf "%+.0f", a - b; else print "-" }'; }
pair() { # format row field volume: "direct/hop" medians
  echo "$(fmt "$1" "$(col "$2" "$4-direct" "$3")")/$(fmt "$1" "$(col "$2" "$4-hop" "$3")")"
}
{
  echo
  echo "throughput: medians of $rounds round(s); MB/s = 10^6 bytes/s; direct = through the owner, hop = through another node, which forwards to the owner"
  printf '%-16s %5s %10s %10s %7s %10s %10s %7s\n' row unit "h1 direct" "h1 hop" hop/dir "h3 direct" "h3 hop" hop/dir
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    d1="$(col "$name" h1-direct 4)" h1="$(col "$name" h1-hop 4)" d3="$(col "$name" h3-direct 4)" h3="$(col "$name" h3-hop 4)"
    printf '%-16s %5s %10s %10s %7s %10s %10s %7s\n' "$name" "$unit" "$(fmt %.0f "$d1")" "$(fmt %.0f "$h1")" "$(ratio "$h1" "$d1")" \
      "$(fmt %.0f "$d3")" "$(fmt %.0f "$h3")" "$(ratio "$h3" "$d3")"
  done
  echo
  if has_row rand-read-qd1 || has_row rand-write-qd1; then
    echo "4 KiB QD1 latency: fio completion latency in us, medians of the rounds' percentiles; added = hop - direct"
    echo "  forwarder = the forwarding node's mean request time in the hop runs (its round trip to the owner included);"
    echo "  owner = the owner's mean write time, direct/hop (from the nodes' metrics; the reads it sends zero-copy are not timed)"
    printf '%-16s %4s %14s %14s %14s %10s %12s\n' row vol "direct p50/99" "hop p50/99" "added p50/99" forwarder "owner d/h"
    for name in rand-read-qd1 rand-write-qd1; do
      has_row "$name" || continue
      for vol in "${vols[@]}"; do
        dp50="$(col "$name" "$vol-direct" 5)" dp99="$(col "$name" "$vol-direct" 6)"
        hp50="$(col "$name" "$vol-hop" 5)" hp99="$(col "$name" "$vol-hop" 6)"
        printf '%-16s %4s %14s %14s %14s %10s %12s\n' "$name" "$vol" \
          "$(fmt %.0f "$dp50")/$(fmt %.0f "$dp99")" "$(fmt %.0f "$hp50")/$(fmt %.0f "$hp99")" \
          "$(diff_of "$hp50" "$dp50")/$(diff_of "$hp99" "$dp99")" \
          "$(fmt %.0f "$(col "$name" "$vol-hop" 15)")" "$(pair %.0f "$name" 16 "$vol")"
      done
    done
  else
    echo "4 KiB QD1 latency: rows rand-read-qd1 and rand-write-qd1 not selected"
  fi
  echo
  echo "nodes' cost per request, direct/hop (medians; $([ "$use_perf" = 1 ] && echo "perf stat on the 3 node processes, all threads" || echo "/proc, 10 ms ticks"));"
  echo "  owner and forwarder = CPU us per request of the owner and of the volume's forwarding node (/proc ticks; in the"
  echo "  direct runs the forwarder is idle for h1 and a copy for h3); share = the forwarder's part of the nodes' CPU in the"
  echo "  hop runs; fwd/req = the forwarder's calls to the owner per request in the hop runs (1.00: one round trip each);"
  echo "  conns = TCP connections opened during a run, direct/hop (fio opens 2 itself); busy = the nodes' CPU in % of one CPU"
  printf '%-16s %4s %13s %6s %11s %11s %11s %13s %6s %7s %11s %11s\n' row vol "CPU us d/h" added "ctxsw d/h" "sysc d/h" "owner d/h" "forwarder d/h" share fwd/req "conns d/h" "busy% d/h"
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    for vol in "${vols[@]}"; do
      printf '%-16s %4s %13s %6s %11s %11s %11s %13s %6s %7s %11s %11s\n' "$name" "$vol" \
        "$(pair %.0f "$name" 7 "$vol")" "$(diff_of "$(col "$name" "$vol-hop" 7)" "$(col "$name" "$vol-direct" 7)")" \
        "$(pair %.1f "$name" 8 "$vol")" "$(pair %.0f "$name" 10 "$vol")" "$(pair %.0f "$name" 11 "$vol")" \
        "$(pair %.0f "$name" 12 "$vol")" "$(fmt %.0f%% "$(col "$name" "$vol-hop" 14)")" "$(fmt %.2f "$(col "$name" "$vol-hop" 17)")" \
        "$(pair %.0f "$name" 18 "$vol")" "$(pair %.0f "$name" 13 "$vol")"
    done
  done
  echo
  if [ "$use_curl" = 1 ]; then
    # every request of a hop run must pass the forwarder, none of a direct run
    read -r hop_min hop_max direct_max < <(awk -F'\t' '$17 ~ /^[0-9.]+$/ {
        if ($2 ~ /-hop$/) { if (hmin == "" || $17 < hmin) hmin = $17; if ($17 > hmax) hmax = $17 } else if ($17 > dmax) dmax = $17 }
        END { if (hmin == "") print "- - -"; else printf "%.2f %.2f %.2f\n", hmin, hmax, dmax }' "$results")
    echo "forwarding check: in the hop runs the forwarding node passed on ${hop_min}-${hop_max} calls per request, in the direct runs ${direct_max}$(awk -v h="$hop_min" -v d="$direct_max" 'BEGIN { if (h == "-" || h < 0.99 || d > 0.01) print "  <-- expected at least 1 and 0: the targets did not take the path their name says" }')"
    awk -F'\t' '$2 ~ /-hop$/ && $17 ~ /^[0-9.]+$/ && $17 > 1.05 { found = 1 } END { exit !found }' "$results" &&
      echo "  (above 1: the server hands a write whose payload arrived in pieces to the device piece by piece, and the forwarder sends each piece as an NBD write of its own)"
  else
    echo "forwarding check: not done (curl is missing)"
  fi
  if [ -s "$out/health-warnings.txt" ]; then
    echo "WARNING: a copy fell out of sync or a volume moved during the run (the figures after that are not valid):"
    sed 's/^/  /' "$out/health-warnings.txt"
  else
    echo "copies in sync and owners unchanged: both volumes healthy after the fill and after every round"
  fi
  print_load
  echo "peak RSS: v1 ${hwm[v1]} MiB, v2 ${hwm[v2]} MiB, v3 ${hwm[v3]} MiB, ZooKeeper $zk_hwm MiB"
  echo
  echo "all runs (row, target, round, MB/s or IOPS, p50 us, p99 us; per request: nodes' CPU us, ctxsw, syscalls, forwarder's calls; nodes' busy %; forwarder's share; TCP connections opened; others' CPU %):"
  sort -k1,1 -k2,2 -k3,3n "$results" |
    awk -F'\t' '{ printf "  %-16s %-9s r%-2s %10.0f %9.1f %9.1f %8.1f %6s %6s %5s %4.0f%% %4s%% %6s %5.1f%%\n", $1, $2, $3, $4, $5, $6, $7, $8, $10, $17, $13, $14, $18, $9 }'
  echo
  echo "raw fio JSON, perf output, node logs and events: $out"
} | tee "$out/table.txt"
finish_summary
