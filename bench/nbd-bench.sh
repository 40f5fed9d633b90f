#!/usr/bin/env bash
# nbd-bench.sh: hablock against nbdkit (C) side by side, in one run, with fio's nbd engine.
# Run with --help for what it does; see bench/README.md for how to read the output.
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
prog=nbd-bench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cmdline="$(printf '%q ' "$0" "$@")"; cmdline="${cmdline% }"

usage() {
  cat <<EOF
Usage: bench/nbd-bench.sh [options]

Benchmarks hablock's NBD server against 'nbdkit file' in the same run: both serve an image
of the same size on the same tmpfs (mounted by this script), fio's nbd engine drives both,
in alternating order (round 1: hablock then nbdkit, round 2: nbdkit then hablock, ...),
and the table shows medians over the rounds.

Rows: sequential write 1 MiB QD8, sequential read 1 MiB QD8, random read 4 KiB QD1,
random write 4 KiB QD1, random read 4 KiB QD32, random write 4 KiB QD32.
Before the rows, both images are filled through NBD (sequential 1 MiB writes),
and every row runs --warmup seconds on each server, unrecorded.

Options:
  --size SIZE       working set and image size, binary units: 256M, 1G, 4G (default 1G;
                    a multiple of 1M). The tmpfs needs about twice this in RAM.
  --runtime SEC     seconds per fio job, time_based (default 10)
  --warmup SEC      before measuring, run every selected row for SEC seconds on each server,
                    unrecorded (default 3; 0: none). A JVM server compiles its hot code
                    during its first seconds under load; this measures steady state.
  --rounds N        rounds; each round runs every row on both servers, the order
                    alternating between rounds (A/B, B/A, ...) (default 2)
  --cpus on|off     pin servers to CPU 1 and fio to CPU 0 with taskset
                    (default: on when nproc >= 2)
  --rows LIST       only these rows, comma-separated names or 1-based numbers
                    (names: seq-write seq-read rand-read-qd1 rand-write-qd1
                    rand-read-qd32 rand-write-qd32; default: all)
  --io-threads N    pass --io-threads N to hablock server (default: the server's default)
  --image-dir DIR   put both images in DIR instead of a fresh tmpfs (to measure a real
                    file system; the runs then include its noise)
  --no-perf         do not count server CPU, context switches and syscalls per request
                    with 'perf stat' (used by default when perf works here)
  --jfr             record a JFR profile of hablock for the whole run (into the results dir)
  --tls             both servers require TLS with the same certificates (made here with
                    openssl: a CA, a server certificate for 127.0.0.1, a client one):
                    hablock --tls require --tls-certificates DIR against
                    nbdkit --tls=require --tls-certificates=DIR; fio connects with nbds://
  --keep            keep the tmpfs and server logs after the run (for debugging)
  -h, --help        this help

Environment: HABLOCK_JAVA_OPTS replaces the server JVM options
(default: -Xms64m -Xmx256m -XX:+UseG1GC -XX:MaxDirectMemorySize=1g, as ./hablock uses).

Needs: root (to mount a tmpfs; falls back to /dev/shm otherwise), fio with the nbd engine,
nbdkit, java 17 (with jstat), jq, taskset, and the built jar cli/target/hablock.jar
(run './hablock --help' once to build it).
Raw fio JSON, server logs and the table go to bench/results/<timestamp>/.
A default run takes about 5 minutes.
EOF
}

# ---------------------------------------------------------------- options
# the options both benches have (--size --runtime --warmup --rounds --cpus --rows --no-perf
# --keep): common_option in lib.sh
io_threads="" jfr=0 image_dir="" tls=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --io-threads) [ -n "${2:-}" ] || die "--io-threads needs a value"; io_threads="$2"; shift 2 ;;
    --io-threads=*) io_threads="${1#*=}"; shift ;;
    --image-dir) [ -n "${2:-}" ] || die "--image-dir needs a directory"; image_dir="$2"; shift 2 ;;
    --image-dir=*) image_dir="${1#*=}"; shift ;;
    --jfr) jfr=1; shift ;;
    --tls) tls=1; shift ;;
    *)
      common_option "$@" || { echo "nbd-bench: unknown option '$1'" >&2; usage >&2; exit 2; }
      shift "$nshift" ;;
  esac
done

check_common_options
[ -z "$io_threads" ] || [[ "$io_threads" =~ ^[1-9][0-9]*$ ]] || die "--io-threads must be a positive integer"
check_cpus
select_rows

# ---------------------------------------------------------------- prerequisites
check_prerequisites "fio|fio (apt-get install fio)" "nbdkit|nbdkit (apt-get install nbdkit)" \
  "java|java 17 (apt-get install openjdk-17-jdk-headless)" \
  "jstat|jstat, part of the JDK (apt-get install openjdk-17-jdk-headless)" "jq|jq (apt-get install jq)"
check_perf
[ "$tls" = 0 ] || check_prerequisites "openssl|openssl (apt-get install openssl)"
if [ "$cpus" = on ]; then
  pin_server=(taskset -c 1) pin_client=(taskset -c 0)
else
  pin_server=() pin_client=()
fi
read -r -a java_opts <<<"${HABLOCK_JAVA_OPTS:--Xms64m -Xmx256m -XX:+UseG1GC -XX:MaxDirectMemorySize=1g}"

# ---------------------------------------------------------------- work space, cleanup
make_workspace "$([ "$tls" = 1 ] && echo -tls)"
hablock_pid="" nbdkit_pid="" jstat_pid=""

stop_pid() { # pid seconds: SIGTERM, wait, then SIGKILL; sets stop_rc to the exit status
  local pid="$1" t="$2" i
  stop_rc=0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < t * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || stop_rc=$?
}

cleanup() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM # finish cleaning up even when signalled again
  [ -z "$jstat_pid" ] || stop_pid "$jstat_pid" 2
  [ -z "$hablock_pid" ] || stop_pid "$hablock_pid" 20
  [ -z "$nbdkit_pid" ] || stop_pid "$nbdkit_pid" 5
  if [ "$keep" = 1 ]; then
    note "kept $tmp (images: ${shm_dir:-$mnt}); unmount/remove it yourself"
  else
    remove_workspace
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Both images live on one tmpfs: same file system, no disk noise.
mkdir -p "$mnt"
tmpfs_bytes=$((2 * size_bytes + (256 << 20)))
if [ -n "$image_dir" ]; then
  [ -d "$image_dir" ] || die "--image-dir $image_dir is not a directory"
  shm_dir="$(mktemp -d "$(readlink -f "$image_dir")/nbd-bench.XXXXXX")"
  images="$shm_dir"
else
  mount_tmpfs "$tmpfs_bytes"
  images="$fs_dir"
fi
check_space "$images" 2

port_free() { # nothing listens on 127.0.0.1:PORT (ss when present: no probe connection)
  if command -v ss >/dev/null; then
    [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
  fi
}
pick_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    if port_free "$p" && [[ " ${used_ports:-} " != *" $p "* ]]; then used_ports="${used_ports:-} $p"; echo "$p"; return; fi
  done
  die "no free TCP port found"
}
wait_port() { # port pid name log
  local i
  for ((i = 0; i < 300; i++)); do
    alive "$2" || { tail -20 "$4" >&2; die "$3 exited during startup (log: $4)"; }
    if ! port_free "$1"; then return; fi
    sleep 0.1
  done
  die "$3 did not listen on port $1 within 30 s (log: $4)"
}

# ---------------------------------------------------------------- TLS certificates
make_certificates() { # dir: DIR/node (ca-cert.pem, server-cert.pem, server-key.pem) for both servers,
  # DIR/home/.pki/libnbd (ca-cert.pem, client-cert.pem, client-key.pem) where fio's libnbd looks
  local d="$1" w="$1/work" name
  mkdir -p "$w" "$d/node" "$d/home/.pki/libnbd"
  (
    cd "$w"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca-key.pem -out ca-cert.pem \
      -days 2 -subj "/CN=nbd-bench CA" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >server.ext
    printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >client.ext
    for name in server client; do
      openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name-key.pem" \
        -out "$name.csr" -subj "/CN=nbd-bench $name"
      openssl x509 -req -in "$name.csr" -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
        -out "$name-cert.pem" -days 2 -extfile "$name.ext"
    done
  ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; die "openssl could not make the test certificates"; }
  cp "$w/ca-cert.pem" "$w/server-cert.pem" "$w/server-key.pem" "$d/node/"
  cp "$w/ca-cert.pem" "$w/client-cert.pem" "$w/client-key.pem" "$d/home/.pki/libnbd/"
}
pki=""
if [ "$tls" = 1 ]; then
  pki="$tmp/pki"
  make_certificates "$pki"
fi

# ---------------------------------------------------------------- machine, start
machine_info
nbdkit_version="$(nbdkit --version | head -1)"
n_runs=$((${#rows[@]} * 2 * rounds))
est=$((n_runs * (runtime + 1) + 2 * (size_mib / 300 + 3) + 2 * ${#rows[@]} * (warmup + 1) + 25))

{
  echo "command: $cmdline"
  echo "machine: nproc=$ncpu, kernel $kernel, ${cpu_model:-unknown cpu}, ${mem_total:-? GiB}"
  echo "software: $java_version; $fio_version; $nbdkit_version; hablock $git_rev"
  echo "setup: size=$size_arg (working set = image size), runtime=${runtime}s per job, warm-up=${warmup}s per row and server, rounds=$rounds, pinning=$cpus$([ "$cpus" = on ] && echo ' (servers: CPU 1, fio: CPU 0)'), images on $fs_type ($images)"
  echo "hablock JVM: ${java_opts[*]}${io_threads:+, --io-threads $io_threads}"
  [ "$tls" = 0 ] || echo "TLS: required by both servers (hablock --tls require, nbdkit --tls=require), ECDSA P-256 certificates; fio connects with nbds://"
  echo "per-request counters: $([ "$use_perf" = 1 ] && echo "perf stat (task-clock, context-switches, raw_syscalls:sys_enter) on the server under test" || echo "/proc only (perf not used)")"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/meta.txt"
cat "$out/meta.txt"
note "$n_runs measured runs, about $((est / 60)) min $((est % 60)) s; results in $out"

hport="$(pick_port)" aport="$(pick_port)" kport="$(pick_port)" rport="$(pick_port)"

# hablock
data="$images/hablock"
mkdir -p "$data"
jfr_opts=()
[ "$jfr" = 0 ] || jfr_opts=("-XX:StartFlightRecording=filename=$out/hablock.jfr,settings=profile,dumponexit=true")
# A one-node cluster: its embedded ZooKeeper on $aport, the replication listener unused (1 copy).
server_args=(server --data-dir "$data" --listen "127.0.0.1:$hport" --zk-listen "127.0.0.1:$aport"
  --replication-listen "127.0.0.1:$rport" --metrics-listen off)
[ -z "$io_threads" ] || server_args+=(--io-threads "$io_threads")
[ "$tls" = 0 ] || server_args+=(--tls require --tls-certificates "$pki/node")
# Same jar and main class as `java -jar`; started by class name so that a broad
# `pkill -f "hablock.jar server"` run by someone else on a shared machine does not stop it mid-run.
main_class="$(unzip -p "$jar" META-INF/MANIFEST.MF 2>/dev/null | tr -d '\r' | sed -n 's/^Main-Class: *//p')"
"${pin_server[@]}" java "${java_opts[@]}" "${jfr_opts[@]}" -cp "$jar" "${main_class:-io.hablock.cli.Main}" "${server_args[@]}" \
  >"$out/hablock.log" 2>&1 &
hablock_pid=$!
wait_port "$aport" "$hablock_pid" "hablock server" "$out/hablock.log"
wait_port "$hport" "$hablock_pid" "hablock server" "$out/hablock.log"
java -jar "$jar" volume create bench --size "${size_mib}M" --zk "127.0.0.1:$aport" >"$out/volume-create.log" 2>&1 ||
  { cat "$out/volume-create.log" >&2; die "hablock volume create failed"; }
[ -f "$data/volumes/bench/data.img" ] || die "hablock did not create $data/volumes/bench/data.img"
scheme="$([ "$tls" = 1 ] && echo nbds || echo nbd)"
hablock_uri="$scheme://127.0.0.1:$hport/bench"
[ "$tls" = 0 ] || note "hablock: $(grep -o 'TLS require on [A-Za-z]*' "$out/hablock.log" | head -1)"

# nbdkit file on the same tmpfs
img="$images/nbdkit.img"
truncate -s "$size_bytes" "$img"
nbdkit_tls=()
[ "$tls" = 0 ] || nbdkit_tls=(--tls=require --tls-certificates="$pki/node")
"${pin_server[@]}" nbdkit -f -i 127.0.0.1 -p "$kport" "${nbdkit_tls[@]}" file "$img" >"$out/nbdkit.log" 2>&1 &
nbdkit_pid=$!
wait_port "$kport" "$nbdkit_pid" "nbdkit" "$out/nbdkit.log"
nbdkit_uri="$scheme://127.0.0.1:$kport/"

# heap of the hablock JVM, sampled every second for the whole run
jstat -gc "$hablock_pid" 1000 >"$out/hablock-jstat.txt" 2>&1 &
jstat_pid=$!

# ---------------------------------------------------------------- fio
proc_ctxsw() { # context switches (voluntary + involuntary) summed over the threads of a process
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'
}
ours_ticks() { # CPU ticks of the processes this script runs besides fio
  echo $(($(proc_ticks "$hablock_pid") + $(proc_ticks "$nbdkit_pid") + $(proc_ticks "$jstat_pid")))
}
server_gone() { # name pid log: dies with a clear message when a server is no longer running
  if ! kill -0 "$2" 2>/dev/null; then
    local rc=0
    wait "$2" 2>/dev/null || rc=$?
    tail -5 "$3" >&2
    [ "$1" = hablock ] && hablock_pid="" || nbdkit_pid=""
    die "the $1 server exited during the run (status $rc: killed by another process?); log: $3"
  fi
}

check_servers() { # hook of run_fio in lib.sh
  server_gone hablock "$hablock_pid" "$out/hablock.log"
  server_gone nbdkit "$nbdkit_pid" "$out/nbdkit.log"
}
fio_via=() # run_fio runs fio in the foreground
# With TLS, libnbd in fio reads the client's certificates from $HOME/.pki/libnbd (fio's engine
# refuses a tls-certificates path in the URI).
[ "$tls" = 0 ] || fio_via=(env HOME="$pki/home")

servers=(hablock nbdkit)
uri_of() { if [ "$1" = hablock ]; then echo "$hablock_uri"; else echo "$nbdkit_uri"; fi; } # also the hook of warm_up

note "filling both images through NBD (sequential 1 MiB writes)"
for s in "${servers[@]}"; do
  run_fio "prep-fill-$s" "$(uri_of "$s")" write 1m 8
done
warm_up server "${servers[@]}"

# results: one line per run: row server round value p50us p99us
#   server-CPU-us-per-IO server-ctxsw-per-IO foreign-CPU-% server-syscalls-per-IO
results="$out/runs.tsv"
: >"$results"
n=0
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=(hablock nbdkit); else order=(nbdkit hablock); fi
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    for s in "${order[@]}"; do
      n=$((n + 1))
      tag="r$r-$name-$s"
      if [ "$s" = hablock ]; then spid="$hablock_pid"; else spid="$nbdkit_pid"; fi
      read -r busy0 total0 < <(sys_ticks)
      ours0="$(ours_ticks)" st0="$(proc_ticks "$spid")" sc0="$(proc_ctxsw "$spid")"
      perf_start "$spid" "$out/$tag.perf" # every thread of the server, also threads created during the run
      run_fio "$tag" "$(uri_of "$s")" "$rw" "$bs" "$qd" --time_based --runtime="$runtime"
      perf_stop
      st1="$(proc_ticks "$spid")" sc1="$(proc_ctxsw "$spid")" ours1="$(ours_ticks)"
      read -r busy1 total1 < <(sys_ticks)
      check_servers
      read -r value p50 p99 ios fio_ticks < <(fio_result "$out/$tag.json" "$rw" "$unit")
      read -r p_ms p_cs p_sc < <(perf_counts "$out/$tag.perf")
      read -r cpu_io ctx_io sys_io foreign < <(awk -v st=$((st1 - st0)) -v sc=$((sc1 - sc0)) -v ios="$ios" \
          -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) -v ours=$((ours1 - ours0)) -v fio="$fio_ticks" \
          -v pms="$p_ms" -v pcs="$p_cs" -v psc="$p_sc" 'BEGIN {
            f = 0; c = 0; x = 0; y = "-"
            if (total > 0) f = (busy - ours - fio) / total * 100
            if (f < 0) f = 0
            if (ios > 0) {
              c = st * 10000 / ios; x = sc / ios                 # from /proc (10 ms ticks; live threads only)
              if (pms ~ /^[0-9.]+$/) c = pms * 1000 / ios         # from perf stat (all threads)
              if (pcs ~ /^[0-9]+$/) x = pcs / ios
              if (psc ~ /^[0-9]+$/) y = sprintf("%.1f", psc / ios)
            }
            printf "%.1f %.2f %s %.1f\n", c, x, y, f }')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$s" "$r" "$value" "$p50" "$p99" \
        "$cpu_io" "$ctx_io" "$foreign" "$sys_io" >>"$results"
      printf 'nbd-bench: [%2d/%d] round %d  %-15s %-8s %10.0f %-5s (server: %s CPU-us, %s ctxsw, %s syscalls per request; others used %s%% CPU)\n' \
        "$n" "$n_runs" "$r" "$name" "$s" "$value" "$unit" "$cpu_io" "$ctx_io" "$sys_io" "$foreign" >&2
    done
  done
done

# ---------------------------------------------------------------- stop, heap
hablock_hwm="$(peak_rss_mib "$hablock_pid")"
nbdkit_hwm="$(peak_rss_mib "$nbdkit_pid")"
stop_pid "$jstat_pid" 2; jstat_pid=""
stop_pid "$hablock_pid" 20; hablock_rc="$stop_rc" hablock_pid=""
stop_pid "$nbdkit_pid" 5; nbdkit_pid=""

# jstat -gc: used heap = S0U + S1U + EU + OU (KiB); also the GC counts and time at the end
heap_summary="$(awk '
  $1 == "S0C" { for (i = 1; i <= NF; i++) col[$i] = i; next }
  col["EU"] && $1 ~ /^[0-9.]+$/ {
    used = $col["S0U"] + $col["S1U"] + $col["EU"] + $col["OU"]
    if (used > max) max = used
    if ($col["OU"] > maxold) maxold = $col["OU"]
    ygc = $col["YGC"]; fgc = $col["FGC"]; gct = $col["GCT"]; n++
  }
  END { if (n) printf "%.0f %.0f %d %d %.2f %d", max / 1024, maxold / 1024, ygc, fgc, gct, n }
' "$out/hablock-jstat.txt")"
xmx="$(printf '%s\n' "${java_opts[@]}" | sed -n 's/^-Xmx//p' | tail -1)"

# ---------------------------------------------------------------- table
col() { # row server field(4=value,5=p50,6=p99,7=cpu-us/IO,8=ctxsw/IO,10=syscalls/IO)
  awk -F'\t' -v r="$1" -v s="$2" -v f="$3" '$1 == r && $2 == s { print $f }' "$results" | median
}
{
  echo
  echo "medians of $rounds round(s); MB/s = 10^6 bytes/s; latency = fio completion latency (clat) in microseconds"
  printf '%-16s %6s %12s %12s %7s   %-17s %-17s\n' row unit hablock nbdkit ratio "hablock p50/p99" "nbdkit p50/p99"
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    h="$(col "$name" hablock 4)" k="$(col "$name" nbdkit 4)"
    ratio="$(awk -v h="$h" -v k="$k" 'BEGIN { if (k > 0) printf "%.2f", h / k; else print "-" }')"
    if [ "$qd" = 1 ]; then
      hl="$(printf '%.0f/%.0f us' "$(col "$name" hablock 5)" "$(col "$name" hablock 6)")"
      kl="$(printf '%.0f/%.0f us' "$(col "$name" nbdkit 5)" "$(col "$name" nbdkit 6)")"
    else
      hl=- kl=-
    fi
    printf '%-16s %6s %12.0f %12.0f %7s   %-17s %-17s\n' "$name" "$unit" "$h" "$k" "$ratio" "$hl" "$kl"
  done
  echo
  if [ "$use_perf" = 1 ]; then
    echo "server cost per request (medians; perf stat on the server process, all its threads)"
  else
    echo "server cost per request (medians; from /proc: 10 ms CPU ticks; context switches of threads alive at the end only)"
  fi
  printf '%-16s %23s %23s %23s\n' "" "CPU us (hablock/nbdkit)" "ctxsw (hablock/nbdkit)" "syscalls (hablock/nbdkit)"
  for row in "${rows[@]}"; do
    IFS='|' read -r name rw bs qd unit <<<"$row"
    printf '%-16s %23s %23s %23s\n' "$name" \
      "$(printf '%.1f / %.1f' "$(col "$name" hablock 7)" "$(col "$name" nbdkit 7)")" \
      "$(printf '%.2f / %.2f' "$(col "$name" hablock 8)" "$(col "$name" nbdkit 8)")" \
      "$([ "$use_perf" = 1 ] && printf '%.1f / %.1f' "$(col "$name" hablock 10)" "$(col "$name" nbdkit 10)" || echo -)"
  done
  echo
  print_load
  if [ -n "$heap_summary" ]; then
    read -r heap_max old_max ygc fgc gct samples <<<"$heap_summary"
    echo "hablock heap: peak used ${heap_max} MiB of -Xmx${xmx:-?} (old gen peak ${old_max} MiB; $ygc young + $fgc full GCs, ${gct} s GC time; $samples jstat samples)"
  else
    echo "hablock heap: no jstat samples (see $out/hablock-jstat.txt)"
  fi
  echo "peak RSS: hablock ${hablock_hwm} MiB, nbdkit ${nbdkit_hwm} MiB"
  echo "hablock exit status after SIGTERM: $hablock_rc$([ "$hablock_rc" = 0 ] || echo '  <-- expected 0, see hablock.log')"
  echo
  echo "all runs (row, server, round, MB/s or IOPS, p50 us, p99 us; per request: server CPU us, ctxsw, syscalls; others' CPU %):"
  sort -k1,1 -k2,2 -k3,3n "$results" |
    awk -F'\t' '{ printf "  %-16s %-8s r%-2s %10.0f %9.1f %9.1f %8.1f %6.2f %6s %5.1f%%\n", $1, $2, $3, $4, $5, $6, $7, $8, $10, $9 }'
  echo
  echo "raw fio JSON and logs: $out"
} | tee "$out/table.txt"
finish_summary
