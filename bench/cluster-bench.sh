#!/usr/bin/env bash
# cluster-bench.sh: a 1-copy, a 2-copy and a 3-copy volume of a 3-node local hablock cluster,
# side by side in one run, with fio's nbd engine and the same jobs as nbd-bench.sh.
# Run with --help for what it does; see bench/README.md for how to read the output.
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
prog=cluster-bench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cmdline="$(printf '%q ' "$0" "$@")"; cmdline="${cmdline% }"

# Where the cluster lives: kept apart from the default local cluster (127.0.0.11.., ZooKeeper
# 2181) and from the acceptance tests, so that this bench can run next to them.
ip_base=127.0.2.10 zk_port=2290
zk="127.0.0.1:$zk_port"
copies_list=(1 2 3)

usage() {
  cat <<EOF
Usage: bench/cluster-bench.sh [options]

Benchmarks replication: starts a 3-node local hablock cluster (hablock cluster up) with its
data directories on a fresh tmpfs, creates volumes c1 (1 copy), c2 (2 copies) and c3
(3 copies) of the working-set size, fills them through NBD, then drives each through its
owner with fio's nbd engine, the same jobs as nbd-bench.sh, in alternating order
(round 1: c1 c2 c3, round 2: c3 c2 c1, ...). The tables show medians over the rounds,
the ratios 2-copy/1-copy and 3-copy/1-copy, and the 4 KiB QD1 write latency that
replication adds.

Rows: sequential write 1 MiB QD8, sequential read 1 MiB QD8, random read 4 KiB QD1,
random write 4 KiB QD1, random read 4 KiB QD32, random write 4 KiB QD32.
Every row runs --warmup seconds on each volume first, unrecorded.

Options:
  --size SIZE       working set and size of each volume, binary units: 256M, 1G
                    (default 1G; a multiple of 1M). The tmpfs holds 6 copies of this
                    (1 + 2 + 3), so the machine needs about 6x SIZE of free RAM.
  --runtime SEC     seconds per fio job, time_based (default 10)
  --warmup SEC      before measuring, run every selected row for SEC seconds on each
                    volume, unrecorded (default 3; 0: none)
  --rounds N        rounds; each round runs every row on the three volumes, the order
                    alternating between rounds (default 2)
  --cpus on|off     on: the whole cluster (ZooKeeper and the 3 nodes) on CPU 1, fio on
                    CPU 0, with taskset (default when nproc >= 2); off: no pinning
  --rows LIST       only these rows, comma-separated names or 1-based numbers
                    (names: seq-write seq-read rand-read-qd1 rand-write-qd1
                    rand-read-qd32 rand-write-qd32; default: all)
  --no-perf         do not count the nodes' CPU, context switches and syscalls per request
                    with 'perf stat' (used by default when perf works here)
  --no-floor        do not measure the floor (see below)
  --keep            leave the cluster running and the tmpfs mounted after the run, for
                    inspection (the script prints how to stop it)
  -h, --help        this help

The cluster: nodes v1..v3 on $ip_base+1.. (NBD port 10809, metrics port 10812),
ZooKeeper on $zk, started with 'hablock cluster up --nodes 3 --ip-base $ip_base
--zk-port $zk_port --dir TMPFS/cluster' and stopped with 'hablock cluster down' (also on
failure and Ctrl-C). The ports must be free.

Needs: root (to mount a tmpfs; falls back to /dev/shm otherwise), fio with the nbd engine,
java 17, jq, taskset, curl (for the nodes' metrics; optional), perf (optional), and the
built jar cli/target/hablock.jar (run './hablock --help' once to build it).
The floor: with the rows seq-write, rand-write-qd32 and rand-write-qd1, each round also runs
bench/floor/replication-floor.c (compiled here with cc; skipped with a note when there is no
C compiler) for 1, 2 and 3 copies and each of those rows, with the same pinning, working set
and runtime (after 1 s unmeasured): a client, an owner and its replicas as separate processes
over loopback TCP, requests pipelined as fio's (1 MiB QD8, 4 KiB random QD32, 4 KiB random
QD1), files on the same tmpfs, in the mode recv/pwrite/send (the data movement of hablock's
write path), and for seq-write also splice/tee (no user space copy at all). No JVM, no NBD,
no framing: what the machine itself allows.

Raw fio JSON, node logs, metrics and the tables go to bench/results/<timestamp>-cluster/.
A default run takes about 15 minutes.
EOF
}

floor_opt=1
script_option() { nshift=1; case "$1" in --no-floor) floor_opt=0 ;; *) return 1 ;; esac; }
results_suffix=-cluster
curl_missing="no server-side latencies from the nodes' metrics"
# shellcheck source-path=SCRIPTDIR source=cluster-prelude.sh
. "$here/cluster-prelude.sh"
for k in 1 2 3; do
  ip="${ip_base%.*}.$((${ip_base##*.} + k))"
  port_free "$ip" 10809 || die "$ip:10809 is in use: another cluster-bench running? (see 'ss -ltnp')"
done


# The floor: compiled here, run for the write rows it has.
floor=0 floor_rows=()
floor_bin="$tmp/replication-floor"
for row in "${rows[@]}"; do
  case "${row%%|*}" in seq-write|rand-write-qd32|rand-write-qd1) floor_rows+=("${row%%|*}") ;; esac
done
if [ "$floor_opt" = 1 ] && [ ${#floor_rows[@]} -gt 0 ]; then
  if ! command -v cc >/dev/null; then
    note "no C compiler (cc): the floor is not measured (apt-get install gcc)"
  elif ! cc -O2 -Wall -o "$floor_bin" "$here/floor/replication-floor.c" 2>"$tmp/cc.err"; then
    cat "$tmp/cc.err" >&2
    die "cannot compile bench/floor/replication-floor.c"
  else
    floor=1
  fi
fi
floor_modes_of() { if [ "$1" = seq-write ]; then echo copy splice; else echo copy; fi; } # splice/tee is for large requests
floor_runs=0
for row in "${floor_rows[@]}"; do read -r -a m <<<"$(floor_modes_of "$row")"; floor_runs=$((floor_runs + ${#m[@]})); done
floor_warmup=$((warmup > 0 ? 1 : 0)) # TCP's buffers grow to their working size; no JIT to wait for
if [ "$cpus" = on ]; then floor_cpus=(0 1); else floor_cpus=(-1 -1); fi

# The cluster's data directories on one fresh tmpfs: no disk in the figures (the floor's files
# too: up to 3 copies at a time).
need=$(((6 + 3 * floor) * size_bytes + (512 << 20)))
avail_mem=$(($(awk '/^MemAvailable/ {print $2}' /proc/meminfo) * 1024))
[ "$avail_mem" -ge $((need + (1 << 30))) ] ||
  die "--size $size_arg needs about $(((need >> 20) + 1024)) MiB of free RAM ($((6 + 3 * floor)) copies on tmpfs + the JVMs); $((avail_mem >> 20)) MiB available"
mount_tmpfs "$need"
data_root="$fs_dir"
check_space "$data_root" $((6 + 3 * floor))
cdir="$data_root/cluster"

# ---------------------------------------------------------------- machine, start
machine_info
n_runs=$(((${#rows[@]} + floor * floor_runs) * 3 * rounds))
est=$((n_runs * (runtime + 1) + 3 * (size_mib / 100 + 3) + 3 * ${#rows[@]} * (warmup + 1) + 40))

{
  echo "command: $cmdline"
  echo "machine: nproc=$ncpu, kernel $kernel, ${cpu_model:-unknown cpu}, ${mem_total:-? GiB}"
  echo "software: $java_version; $fio_version; hablock $git_rev"
  echo "setup: 3-node local cluster (hablock cluster up: ZooKeeper $zk, nodes v1-v3 on ${ip_base%.*}.$((${ip_base##*.} + 1))-$((${ip_base##*.} + 3)), default node JVM options), volumes c1/c2/c3 with 1/2/3 copies, data dirs on $fs_type ($cdir)"
  echo "runs: size=$size_arg per volume (working set = volume size), runtime=${runtime}s per job, warm-up=${warmup}s per row and volume, rounds=$rounds, pinning=$cpus$([ "$cpus" = on ] && echo ' (ZooKeeper and all nodes: CPU 1, fio: CPU 0)')"
  echo "per-request counters: $([ "$use_perf" = 1 ] && echo "perf stat (task-clock, context-switches, raw_syscalls:sys_enter) on the 3 node processes together" || echo "/proc only (perf not used)")"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/meta.txt"
cat "$out/meta.txt"
note "$n_runs measured runs, about $((est / 60)) min $((est % 60)) s; results in $out"

# shellcheck disable=SC2119 # no extra options for cluster up
start_cluster

declare -A owner uri owner_pid
for c in "${copies_list[@]}"; do
  vol="c$c"
  run_child hablock volume create "$vol" --size "${size_mib}M" --copies "$c" --zk "$zk" --json >"$out/volume-$vol.json" 2>"$tmp/create.err" ||
    { cat "$tmp/create.err" >&2; die "hablock volume create $vol --copies $c failed"; }
  owner[$c]="$(jq -r .owner "$out/volume-$vol.json")"
  [ -n "${node_ip[${owner[$c]}]:-}" ] || die "volume $vol: owner '${owner[$c]}' is not one of the nodes"
  uri[$c]="nbd://${node_ip[${owner[$c]}]}:${node_port[${owner[$c]}]}/$vol"
  owner_pid[$c]="${node_pid[${owner[$c]}]}"
  note "volume $vol: $c cop$([ "$c" = 1 ] && echo y || echo ies) on $(jq -r '.copyNodes | keys | join(",")' "$out/volume-$vol.json"), owner ${owner[$c]}, ${uri[$c]}"
done
{
  echo "volumes:"
  for c in "${copies_list[@]}"; do
    echo "  c$c: $c cop$([ "$c" = 1 ] && echo y || echo ies) on $(jq -r '.copyNodes | keys | join(",")' "$out/volume-c$c.json"), owner ${owner[$c]} (${uri[$c]})"
  done
} | tee -a "$out/meta.txt"

# ---------------------------------------------------------------- fio
ticks_of() { # CPU ticks of several processes
  local p s=0
  for p in "$@"; do s=$((s + $(proc_ticks "$p"))); done
  echo "$s"
}
metrics() { # copies: owner's write latency and replication latency sums: "wsum wcount rsum rcount"
  local c="$1"
  if [ "$use_curl" = 0 ]; then echo "0 0 0 0"; return; fi
  { curl -s -m 3 "http://${node_ip[${owner[$c]}]}:10812/metrics" 2>/dev/null || true; } | metric_sums "c$c"
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

fio_via=(run_child) # run_fio runs fio in the background and waits for it

note "filling the volumes through NBD (sequential 1 MiB writes)"
for c in "${copies_list[@]}"; do
  run_fio "prep-fill-c$c" "${uri[$c]}" write 1m 8
  note "  c$c: $(jq -r '.jobs[0].write.bw_bytes / 1e6 | floor' "$out/prep-fill-c$c.json") MB/s"
done
check_health "after the fill"
uri_of() { echo "${uri[${1#c}]}"; } # hook of warm_up in lib.sh: c2 -> the URI of volume c2
warm_up volume "${copies_list[@]/#/c}"

# results: one line per run:
#  1 row  2 copies  3 round  4 value  5 p50us  6 p99us  7 nodes-CPU-us/IO  8 ctxsw/IO  9 foreign-CPU-%
#  10 syscalls/IO  11 owner-CPU-us/IO  12 other-nodes-CPU-us/IO  13 nodes-CPU-% (of one CPU)
#  14 owner's mean write latency us  15 owner's mean replication round trip us
results="$out/runs.tsv"
: >"$results"
n=0
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=(1 2 3); else order=(3 2 1); fi
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    for c in "${order[@]}"; do
      n=$((n + 1))
      tag="r$r-$name-c$c"
      opid="${owner_pid[$c]}"
      read -r busy0 total0 < <(sys_ticks)
      ours0="$(ticks_of "${all_pids[@]}")" nodes0="$(ticks_of "${node_pid[@]}")" own0="$(proc_ticks "$opid")"
      read -r ws0 wc0 rs0 rc0 < <(metrics "$c")
      t0="$(date +%s%N)"
      perf_start "$node_pid_list" "$out/$tag.perf" # all threads of the 3 nodes, also threads created during the run
      run_fio "$tag" "${uri[$c]}" "$rw" "$bs" "$qd" --time_based --runtime="$runtime"
      perf_stop
      t1="$(date +%s%N)"
      nodes1="$(ticks_of "${node_pid[@]}")" own1="$(proc_ticks "$opid")" ours1="$(ticks_of "${all_pids[@]}")"
      read -r busy1 total1 < <(sys_ticks)
      read -r ws1 wc1 rs1 rc1 < <(metrics "$c")
      check_servers
      read -r value p50 p99 ios fio_ticks < <(fio_result "$out/$tag.json" "$rw" "$unit")
      read -r p_ms p_cs p_sc < <(perf_counts "$out/$tag.perf")
      read -r cpu_io ctx_io sys_io foreign own_io others_io util wlat rlat < <(awk \
          -v nt=$((nodes1 - nodes0)) -v ot=$((own1 - own0)) -v ios="$ios" -v wall_ns=$((t1 - t0)) \
          -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) -v ours=$((ours1 - ours0)) -v fio="$fio_ticks" \
          -v pms="$p_ms" -v pcs="$p_cs" -v psc="$p_sc" \
          -v ws="$(awk -v a="$ws0" -v b="$ws1" 'BEGIN { print b - a }')" -v wc=$((wc1 - wc0)) \
          -v rs="$(awk -v a="$rs0" -v b="$rs1" 'BEGIN { print b - a }')" -v rc=$((rc1 - rc0)) 'BEGIN {
            f = 0; c = 0; x = "-"; y = "-"; o = 0; e = 0; u = 0; wl = "-"; rl = "-"
            if (total > 0) f = (busy - ours - fio) / total * 100
            if (f < 0) f = 0
            if (ios > 0) {
              c = nt * 10000 / ios; o = ot * 10000 / ios; e = (nt - ot) * 10000 / ios   # /proc: 10 ms ticks
              if (pms ~ /^[0-9.]+$/) c = pms * 1000 / ios                             # perf stat: all threads
              if (pcs ~ /^[0-9]+$/) x = sprintf("%.2f", pcs / ios)
              if (psc ~ /^[0-9]+$/) y = sprintf("%.1f", psc / ios)
            }
            if (wall_ns > 0) u = (pms ~ /^[0-9.]+$/ ? pms * 1e6 : nt * 1e7) / wall_ns * 100
            if (wc > 0) wl = sprintf("%.1f", ws / wc * 1e6)
            if (rc > 0) rl = sprintf("%.1f", rs / rc * 1e6)
            printf "%.1f %s %s %.1f %.1f %.1f %.0f %s %s\n", c, x, y, f, o, e, u, wl, rl }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$r" "$value" "$p50" "$p99" \
        "$cpu_io" "$ctx_io" "$foreign" "$sys_io" "$own_io" "$others_io" "$util" "$wlat" "$rlat" >>"$results"
      printf 'cluster-bench: [%2d/%d] round %d  %-15s c%s %10.0f %-5s (nodes: %s CPU-us per request, %s%% of a CPU; others used %s%% CPU)\n' \
        "$n" "$n_runs" "$r" "$name" "$c" "$value" "$unit" "$cpu_io" "$util" "$foreign" >&2
    done
  done
  check_health "after round $r"
  if [ "$floor" = 1 ]; then
    # the floor's files stay from run to run (filled once, before any clock starts)
    mkdir -p "$data_root/floor"
    for name in "${floor_rows[@]}"; do
      for mode in $(floor_modes_of "$name"); do
        for c in "${order[@]}"; do
          n=$((n + 1))
          run_child "$floor_bin" "$mode" "$c" "$name" "$data_root/floor" "$size_mib" "$floor_warmup" "$runtime" \
              "${floor_cpus[@]}" >"$tmp/floor.out" 2>"$tmp/floor.err" ||
            { cat "$tmp/floor.err" >&2; die "replication-floor $mode $c $name failed"; }
          # floor.tsv: 1 mode 2 row 3 copies 4 round 5 MB/s 6 IOPS 7 nodes-CPU-us/request
          #  8 client-CPU-us/request 9 p50us 10 p99us
          read -r _ _ _ fmbs fiops fcpu fclient fp50 fp99 <"$tmp/floor.out"
          printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$name" "$c" "$r" "$fmbs" "$fiops" "$fcpu" "$fclient" \
            "$fp50" "$fp99" >>"$out/floor.tsv"
          printf 'cluster-bench: [%2d/%d] round %d  floor %-6s %-15s c%s %8.0f MB/s %8.0f IOPS  (nodes: %s CPU-us per request)\n' \
            "$n" "$n_runs" "$r" "$mode" "$name" "$c" "$fmbs" "$fiops" "$fcpu" >&2
        done
      done
    done
  fi
done

peak_rss_of_cluster

# ---------------------------------------------------------------- tables
{
  echo
  echo "throughput: medians of $rounds round(s); MB/s = 10^6 bytes/s; each volume through its owner"
  printf '%-16s %5s %10s %10s %10s %7s %7s\n' row unit 1-copy 2-copy 3-copy 2c/1c 3c/1c
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    v1="$(col "$name" 1 4)" v2="$(col "$name" 2 4)" v3="$(col "$name" 3 4)"
    printf '%-16s %5s %10s %10s %10s %7s %7s\n' "$name" "$unit" "$(fmt %.0f "$v1")" "$(fmt %.0f "$v2")" "$(fmt %.0f "$v3")" \
      "$(ratio "$v2" "$v1")" "$(ratio "$v3" "$v1")"
  done
  echo
  if [ "$floor" = 1 ]; then
    fcol() { # mode row copies field (of floor.tsv): the median over the rounds
      awk -F'\t' -v m="$1" -v r="$2" -v c="$3" -v f="$4" '$1 == m && $2 == r && $3 == c { print $f }' "$out/floor.tsv" | median
    }
    fspread() { # mode row field: the largest slowest/fastest-round ratio over the copy counts ("-" with 1 round)
      awk -F'\t' -v m="$1" -v r="$2" -v f="$3" '$1 == m && $2 == r && $f > 0 {
          k = $3; if (!(k in lo) || $f < lo[k]) lo[k] = $f; if ($f > hi[k]) hi[k] = $f; n[k]++ }
        END { w = 0; for (k in n) if (n[k] > 1 && hi[k] / lo[k] > w) w = hi[k] / lo[k]; if (w == 0) print "-"; else printf "%.2f", w }' "$out/floor.tsv"
    }
    echo "the floor (bench/floor/replication-floor.c: the same data movement without hablock; client, owner and"
    echo "replicas as processes over loopback TCP, requests pipelined as fio's, same working set, tmpfs and pinning;"
    echo "medians of $rounds round(s); spread = fastest/slowest round, the worst of the three copy counts)"
    printf '%-16s %-7s %5s %10s %10s %10s %7s %7s %7s\n' row mode unit 1-copy 2-copy 3-copy 2c/1c 3c/1c spread
    unsteady=0
    for name in "${floor_rows[@]}"; do
      if [ "$name" = seq-write ]; then unit=MB/s f=5; else unit=IOPS f=6; fi
      for mode in $(floor_modes_of "$name"); do
        f1="$(fcol "$mode" "$name" 1 $f)" f2="$(fcol "$mode" "$name" 2 $f)" f3="$(fcol "$mode" "$name" 3 $f)"
        spread="$(fspread "$mode" "$name" $f)"
        if awk -v x="$spread" 'BEGIN { exit !(x != "-" && x > 1.2) }'; then unsteady=1; fi
        printf '%-16s %-7s %5s %10s %10s %10s %7s %7s %7s\n' "$name" "$([ "$mode" = copy ] && echo recv || echo splice)" "$unit" \
          "$(fmt %.0f "$f1")" "$(fmt %.0f "$f2")" "$(fmt %.0f "$f3")" "$(ratio "$f2" "$f1")" "$(ratio "$f3" "$f1")" "$spread"
      done
    done
    [ "$unsteady" = 0 ] || echo "  WARNING: the floor's rounds disagree by more than 20 %: the machine was busy, these ratios are unreliable"
    echo "hablock / floor (recv/pwrite/send), and the nodes' CPU us per request, hablock / floor (1c/2c/3c):"
    for name in "${floor_rows[@]}"; do
      if [ "$name" = seq-write ]; then f=5; else f=6; fi
      printf '  %-16s %6s %6s %6s   CPU us %s / %s\n' "$name" "$(ratio "$(col "$name" 1 4)" "$(fcol copy "$name" 1 $f)")" \
        "$(ratio "$(col "$name" 2 4)" "$(fcol copy "$name" 2 $f)")" "$(ratio "$(col "$name" 3 4)" "$(fcol copy "$name" 3 $f)")" \
        "$(fmt %.0f "$(col "$name" 1 7)")/$(fmt %.0f "$(col "$name" 2 7)")/$(fmt %.0f "$(col "$name" 3 7)")" \
        "$(fmt %.1f "$(fcol copy "$name" 1 7)")/$(fmt %.1f "$(fcol copy "$name" 2 7)")/$(fmt %.1f "$(fcol copy "$name" 3 7)")"
    done
    if [[ " ${floor_rows[*]} " == *" seq-write "* ]]; then
      echo "  (floor splice/tee: nodes' CPU us per MiB $(fmt %.0f "$(fcol splice seq-write 1 7)")/$(fmt %.0f "$(fcol splice seq-write 2 7)")/$(fmt %.0f "$(fcol splice seq-write 3 7)"))"
    fi
    echo
  fi
  if has_row rand-write-qd1; then
    echo "4 KiB QD1 random write latency (fio completion latency, medians of the rounds' percentiles, us)"
    echo "  server write = the owner's mean write time, replication = its mean round trip to a copy (from its metrics)"
    printf '%-8s %8s %8s %12s %12s %14s %13s\n' copies p50 p99 "added p50" "added p99" "server write" "replication"
    l50="$(col rand-write-qd1 1 5)" l99="$(col rand-write-qd1 1 6)"
    for c in "${copies_list[@]}"; do
      p50="$(col rand-write-qd1 "$c" 5)" p99="$(col rand-write-qd1 "$c" 6)"
      if [ "$c" = 1 ]; then a50=- a99=-; else
        a50="$(awk -v a="$p50" -v b="$l50" 'BEGIN { printf "%+.0f", a - b }')"
        a99="$(awk -v a="$p99" -v b="$l99" 'BEGIN { printf "%+.0f", a - b }')"
      fi
      printf '%-8s %8s %8s %12s %12s %14s %13s\n' "$c-copy" "$(fmt %.0f "$p50")" "$(fmt %.0f "$p99")" "$a50" "$a99" \
        "$(fmt %.0f "$(col rand-write-qd1 "$c" 14)")" "$(fmt %.0f "$(col rand-write-qd1 "$c" 15)")"
    done
    if [ "$floor" = 1 ]; then
      printf '%-8s' "floor"
      for c in "${copies_list[@]}"; do printf ' %s-copy %s/%s' "$c" "$(fmt %.0f "$(fcol copy rand-write-qd1 "$c" 9)")" "$(fmt %.0f "$(fcol copy rand-write-qd1 "$c" 10)")"; done
      echo "  (p50/p99 us: request sent to answer read, recv/pwrite/send)"
    fi
  else
    echo "4 KiB QD1 write latency: row rand-write-qd1 not selected"
  fi
  echo
  echo "cluster cost per request (medians; $([ "$use_perf" = 1 ] && echo "perf stat on the 3 node processes, all threads" || echo "/proc, 10 ms ticks"));"
  echo "  owner/others = CPU us per request on the owner and on the other nodes (/proc ticks); busy = nodes' CPU in % of one CPU"
  printf '%-16s %20s %26s %17s %17s\n' "" "CPU us (1c/2c/3c)" "3c owner/others CPU us" "ctxsw (1c/2c/3c)" "busy % (1c/2c/3c)"
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    printf '%-16s %20s %26s %17s %17s\n' "$name" \
      "$(fmt %.0f "$(col "$name" 1 7)")/$(fmt %.0f "$(col "$name" 2 7)")/$(fmt %.0f "$(col "$name" 3 7)")" \
      "$(fmt %.0f "$(col "$name" 3 11)") / $(fmt %.0f "$(col "$name" 3 12)")" \
      "$(fmt %.1f "$(col "$name" 1 8)")/$(fmt %.1f "$(col "$name" 2 8)")/$(fmt %.1f "$(col "$name" 3 8)")" \
      "$(fmt %.0f "$(col "$name" 1 13)")/$(fmt %.0f "$(col "$name" 2 13)")/$(fmt %.0f "$(col "$name" 3 13)")"
  done
  echo
  if has_row seq-write; then
    sw1="$(col seq-write 1 4)" sw3="$(col seq-write 3 4)"
    sr="$(ratio "$sw3" "$sw1")"
    echo "target: 3-copy seq-write >= 0.6 x 1-copy: $(fmt %.0f "$sw3") / $(fmt %.0f "$sw1") MB/s = ${sr}x: $(awk -v x="$sr" 'BEGIN { if (x == "-") print "not measured"; else if (x >= 0.6) print "MET"; else print "NOT MET" }')"
    if [ "$floor" = 1 ]; then
      echo "  the floor's own 3c/1c on this machine: $(ratio "$(fcol copy seq-write 3 5)" "$(fcol copy seq-write 1 5)")x (recv/pwrite/send), $(ratio "$(fcol splice seq-write 3 5)" "$(fcol splice seq-write 1 5)")x (splice/tee)"
    fi
  else
    echo "target: 3-copy seq-write >= 0.6 x 1-copy: not measured (row seq-write not selected)"
  fi
  if [ "$floor" = 1 ]; then
    floor_target() { # row field min unit: hablock's 3-copy figure against the floor's
      local h f x
      h="$(col "$1" 3 4)" f="$(fcol copy "$1" 3 "$2")"
      x="$(ratio "$h" "$f")"
      echo "target: 3-copy $1 >= $3 x the floor: $(fmt %.0f "$h") / $(fmt %.0f "$f") $4 = ${x}x: $(awk -v x="$x" -v m="$3" 'BEGIN { if (x == "-") print "not measured"; else if (x >= m) print "MET"; else print "NOT MET" }')"
    }
    if has_row seq-write; then floor_target seq-write 5 0.95 MB/s; fi
    if has_row rand-write-qd32; then floor_target rand-write-qd32 6 0.8 IOPS; fi
  fi
  if [ -s "$out/health-warnings.txt" ]; then
    echo "WARNING: copies fell out of sync during the run (the figures after that measure fewer copies):"
    sed 's/^/  /' "$out/health-warnings.txt"
  else
    echo "copies in sync: every volume healthy after the fill and after every round"
  fi
  print_load
  echo "peak RSS: v1 ${hwm[v1]} MiB, v2 ${hwm[v2]} MiB, v3 ${hwm[v3]} MiB, ZooKeeper $zk_hwm MiB"
  echo
  echo "all runs (row, copies, round, MB/s or IOPS, p50 us, p99 us; per request: nodes' CPU us, ctxsw, syscalls; nodes' busy %; others' CPU %):"
  sort -k1,1 -k2,2n -k3,3n "$results" |
    awk -F'\t' '{ printf "  %-16s c%s r%-2s %10.0f %9.1f %9.1f %8.1f %6s %6s %4.0f%% %5.1f%%\n", $1, $2, $3, $4, $5, $6, $7, $8, $10, $13, $9 }'
  if [ "$floor" = 1 ]; then
    echo "floor runs (mode, row, copies, round, MB/s, IOPS; per request: nodes' CPU us, client's CPU us; p50 us, p99 us):"
    sort -k1,1 -k2,2 -k3,3n -k4,4n "$out/floor.tsv" |
      awk -F'\t' '{ printf "  %-6s %-16s c%s r%-2s %8.0f %8.0f %8.1f %7.1f %9.1f %9.1f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
  fi
  echo
  echo "raw fio JSON, perf output, node logs and events: $out"
} | tee "$out/table.txt"
finish_summary
