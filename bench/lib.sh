# shellcheck shell=bash disable=SC2034,SC2154 # the globals are shared with the script that sources this file
# lib.sh: what nbd-bench.sh and cluster-bench.sh share. Sourced, not run. The script sets
# here (its directory) and prog (the prefix of its messages: nbd-bench, cluster-bench) first;
# this file sets repo and jar, the common option defaults, and defines functions only.
# Functions marked "hook" are called here but defined by each script.

repo="$(cd "$here/.." && pwd)"
jar="$repo/cli/target/hablock.jar"

die() { echo "$prog: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }

# ---------------------------------------------------------------- options
# shellcheck disable=SC2034 # used by the scripts
size_arg=1G runtime=10 warmup=3 rounds=2 cpus="" rows_arg="" keep=0 perf_opt=auto

common_option() { # "$@" of the script's option loop: takes an option both scripts have and sets
  # nshift to the words it used; returns 1 for any other option. A missing value is an error
  # prefixed with the script's name ("nbd-bench: --size needs a value"), exit status 1.
  nshift=1
  case "$1" in
    --size) [ -n "${2:-}" ] || die "--size needs a value"; size_arg="$2"; nshift=2 ;;
    --size=*) size_arg="${1#*=}" ;;
    --warmup) [ -n "${2:-}" ] || die "--warmup needs a value"; warmup="$2"; nshift=2 ;;
    --warmup=*) warmup="${1#*=}" ;;
    --runtime) [ -n "${2:-}" ] || die "--runtime needs a value"; runtime="$2"; nshift=2 ;;
    --runtime=*) runtime="${1#*=}" ;;
    --rounds) [ -n "${2:-}" ] || die "--rounds needs a value"; rounds="$2"; nshift=2 ;;
    --rounds=*) rounds="${1#*=}" ;;
    --cpus) [ -n "${2:-}" ] || die "--cpus needs on or off"; cpus="$2"; nshift=2 ;;
    --cpus=*) cpus="${1#*=}" ;;
    --rows) [ -n "${2:-}" ] || die "--rows needs a list"; rows_arg="$2"; nshift=2 ;;
    --rows=*) rows_arg="${1#*=}" ;;
    --no-perf) perf_opt=off ;;
    --keep) keep=1 ;;
    *) return 1 ;;
  esac
}

to_bytes() { # 1G -> bytes (binary units); empty output when malformed
  local v="$1" n u
  [[ "$v" =~ ^([0-9]+)([KkMmGgTt]?)(i?[Bb])?$ ]] || return 0
  n="${BASH_REMATCH[1]}"; u="${BASH_REMATCH[2]^^}"
  case "$u" in
    "") echo "$n" ;; K) echo $((n << 10)) ;; M) echo $((n << 20)) ;;
    G) echo $((n << 30)) ;; T) echo $((n << 40)) ;;
  esac
}

check_common_options() { # sets size_bytes and size_mib; dies on a bad --size, --runtime, --warmup or --rounds
  size_bytes="$(to_bytes "$size_arg")"
  [ -n "$size_bytes" ] || die "--size '$size_arg' is not a size like 512M or 1G"
  if [ $((size_bytes % (1 << 20))) -ne 0 ] || [ "$size_bytes" -le 0 ]; then die "--size must be a positive multiple of 1M"; fi
  size_mib=$((size_bytes >> 20))
  [[ "$runtime" =~ ^[1-9][0-9]*$ ]] || die "--runtime must be a positive number of seconds"
  [[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup must be a number of seconds (0 for none)"
  [[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive integer"
}

check_cpus() { # sets ncpu, and cpus (on/off) when not given
  ncpu="$(nproc)"
  if [ -z "$cpus" ]; then
    if [ "$ncpu" -ge 2 ]; then cpus=on; else cpus=off; fi
  fi
  case "$cpus" in
    on) [ "$ncpu" -ge 2 ] || die "--cpus on needs at least 2 CPUs (nproc is $ncpu)" ;;
    off) ;;
    *) die "--cpus must be 'on' or 'off'" ;;
  esac
}

# name | fio rw | bs | iodepth | unit
all_rows=(
  "seq-write|write|1m|8|MB/s"
  "seq-read|read|1m|8|MB/s"
  "rand-read-qd1|randread|4k|1|IOPS"
  "rand-write-qd1|randwrite|4k|1|IOPS"
  "rand-read-qd32|randread|4k|32|IOPS"
  "rand-write-qd32|randwrite|4k|32|IOPS"
)
select_rows() { # sets rows from --rows (all rows when not given)
  local wanted w found i
  rows=()
  if [ -z "$rows_arg" ]; then
    rows=("${all_rows[@]}")
  else
    IFS=, read -r -a wanted <<<"$rows_arg"
    for w in "${wanted[@]}"; do
      found=""
      for i in "${!all_rows[@]}"; do
        if [ "$w" = "$((i + 1))" ] || [ "$w" = "${all_rows[$i]%%|*}" ]; then found="${all_rows[$i]}"; fi
      done
      [ -n "$found" ] || die "--rows: unknown row '$w' (see --help)"
      rows+=("$found")
    done
  fi
}

# ---------------------------------------------------------------- prerequisites
check_prerequisites() { # "command|what to print when it is missing"...; then taskset when pinning,
  # fio's nbd engine and the jar; sets use_perf
  local spec missing=()
  for spec in "$@"; do
    command -v "${spec%%|*}" >/dev/null || missing+=("${spec#*|}")
  done
  if [ "$cpus" = on ]; then command -v taskset >/dev/null || missing+=("taskset (apt-get install util-linux)"); fi
  if [ ${#missing[@]} -gt 0 ]; then
    for spec in "${missing[@]}"; do echo "$prog: missing: $spec" >&2; done
    exit 1
  fi
  fio --enghelp=nbd >/dev/null 2>&1 || die "this fio has no nbd engine (Debian's fio has it: apt-get install fio)"
  [ -f "$jar" ] || die "hablock is not built ($jar is missing): run './hablock --help' once, which builds it"
  if [ -n "$(find "$repo" \( -name .git -o -name target -o -name bench \) -prune -o \
      \( -name '*.java' -o -name pom.xml -o -path '*/src/main/resources/*' \) -type f -newer "$jar" -print -quit)" ]; then
    note "warning: $jar is older than the sources; run './hablock --help' to rebuild it"
  fi
}

perf_events=task-clock,context-switches,raw_syscalls:sys_enter
check_perf() { # sets use_perf: 1 when perf stat can count perf_events here and --no-perf was not given
  use_perf=0
  if [ "$perf_opt" = auto ] && command -v perf >/dev/null &&
      perf stat -x, -e "$perf_events" -o /dev/null -- true >/dev/null 2>&1; then
    use_perf=1
  fi
}

# ---------------------------------------------------------------- work space
make_workspace() { # results-dir-suffix: sets out (bench/results/<timestamp><suffix>), tmp and mnt
  local stamp
  stamp="$(date +%Y%m%d-%H%M%S)"
  out="$repo/bench/results/$stamp$1"
  mkdir -p "$out"
  tmp="$(mktemp -d "/tmp/$prog.XXXXXX")"
  mnt="$tmp/mnt"
  mounted=0 shm_dir=""
}

mount_tmpfs() { # bytes: a fresh tmpfs on $mnt, else a directory in /dev/shm; sets fs_dir
  mkdir -p "$mnt"
  if mount -t tmpfs -o "size=$1" "$prog" "$mnt" 2>"$tmp/mount.err"; then
    mounted=1
    fs_dir="$mnt"
  elif [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    note "warning: cannot mount a tmpfs ($(head -c 200 "$tmp/mount.err")); using /dev/shm instead"
    shm_dir="$(mktemp -d "/dev/shm/$prog.XXXXXX")"
    fs_dir="$shm_dir"
  else
    die "cannot mount a tmpfs (run as root): $(cat "$tmp/mount.err")"
  fi
}

check_space() { # dir copies: dies unless dir has room for copies x --size (+ 64 MiB); sets fs_type
  local avail
  avail=$(($(stat -f -c '%a * %S' "$1")))
  fs_type="$(stat -f -c %T "$1")"
  [ "$avail" -ge $(($2 * size_bytes + (64 << 20))) ] || die "the tmpfs has $((avail >> 20)) MiB free; --size $size_arg needs $(($2 * size_mib + 64)) MiB"
}

remove_workspace() { # unmount the tmpfs, remove the /dev/shm directory and $tmp
  if [ "$mounted" = 1 ]; then umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; fi
  [ -z "$shm_dir" ] || rm -rf "$shm_dir"
  rm -rf "$tmp"
}

machine_info() { # sets kernel cpu_model mem_total java_version fio_version git_rev
  kernel="$(uname -r)"
  cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)"
  mem_total="$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || true)"
  java_version="$(java -version 2>&1 | head -1)"
  fio_version="$(fio --version)"
  git_rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [ -z "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ] || git_rev="$git_rev (with local changes)"
}

# ---------------------------------------------------------------- fio, counters
proc_ticks() { # CPU ticks (user + system, all threads) of a process; 0 when gone
  { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null || true; } | awk '{ t = $12 + $13 } END { print t + 0 }'
}
sys_ticks() { # busy and total ticks of all CPUs
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8; print busy, busy + $5 + $6 + $9 }' /proc/stat
}
alive() { # pid: the process runs. Not kill -0, which succeeds on a zombie: a dead server stays one
  # until its parent (this script, or init for the nodes 'cluster up' started) reaps it.
  local s
  s="$({ sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null || true; } | cut -d' ' -f1)"
  [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}
peak_rss_mib() { # pid: VmHWM in MiB; ? when gone
  awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo '?'
}

perf_start() { # pids(comma-separated) file: perf stat on every thread of them (also threads
  # created later), in the background; sets perf_pid ("" without perf)
  perf_pid=""
  if [ "$use_perf" = 1 ]; then
    perf stat -x, -e "$perf_events" -p "$1" -o "$2" &
    perf_pid=$!
    sleep 0.2
  fi
}
perf_stop() {
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true; perf_pid=""; fi
}
perf_counts() { # file: "task-clock-ms context-switches syscalls" from perf stat -x, ("-" when not measured)
  # perf stat -x, lines: value,unit,event,... (task-clock in msec)
  awk -F, '$3 == "task-clock" { t = $1 } $3 == "context-switches" { c = $1 }
      $3 == "raw_syscalls:sys_enter" { s = $1 }
      END { print (t == "" ? "-" : t), (c == "" ? "-" : c), (s == "" ? "-" : s) }' "$1" 2>/dev/null || echo "- - -"
}

metric_sums() { # volume: reads a node's /metrics on stdin; prints "wsum wcount rsum rcount", the sums
  # and counts of its write latency (hablock_volume_latency_seconds, op=write) and of its
  # replication round trips (hablock_replication_latency_seconds) for that volume
  awk -v v="volume=\"$1\"" '
    index($0, v) == 0 { next }
    /^hablock_volume_latency_seconds_sum\{/ && /op="write"/ { ws += $NF }
    /^hablock_volume_latency_seconds_count\{/ && /op="write"/ { wc += $NF }
    /^hablock_replication_latency_seconds_sum\{/ { rs += $NF }
    /^hablock_replication_latency_seconds_count\{/ { rc += $NF }
    END { printf "%.9f %d %.9f %d\n", ws, wc, rs, rc }'
}

run_fio() { # tag uri rw bs qd [extra fio args...]; writes $out/<tag>.json. Runs fio through
  # "${fio_via[@]}" (set by the script); on failure, calls the hook check_servers first
  local tag="$1" u="$2" rw="$3" bs="$4" qd="$5"
  shift 5
  sync
  if ! "${fio_via[@]}" "${pin_client[@]}" fio --name="$tag" --ioengine=nbd --uri="$u" --rw="$rw" --bs="$bs" \
      --iodepth="$qd" --numjobs=1 --size="$size_bytes" --output-format=json "$@" \
      >"$out/$tag.out" 2>"$out/$tag.err"; then
    check_servers
    cat "$out/$tag.err" >&2
    die "fio failed: $tag (output: $out/$tag.out)"
  fi
  # fio's nbd engine prints "fio: connected to NBD server" before the JSON
  sed -n '/^{/,$p' "$out/$tag.out" >"$out/$tag.json"
  jq -e '.jobs[0].error == 0' "$out/$tag.json" >/dev/null ||
    die "fio reported an error for $tag (see $out/$tag.out)"
  rm -f "$out/$tag.out"
  [ -s "$out/$tag.err" ] || rm -f "$out/$tag.err"
}

warm_up() { # noun target...: every row for --warmup seconds on each target, unrecorded; the hook
  # uri_of gives a target's NBD URI
  local t row name rw bs qd unit
  if [ "$warmup" -gt 0 ]; then
    note "warming up: every row for $warmup s on each $1, not counted"
    shift
    for t in "$@"; do
      for row in "${rows[@]}"; do
        IFS='|' read -r name rw bs qd unit <<<"$row"
        run_fio "prep-warmup-$name-$t" "$(uri_of "$t")" "$rw" "$bs" "$qd" --time_based --runtime="$warmup"
      done
    done
  fi
}

fio_result() { # json rw unit: "value p50us p99us total-ios fio-CPU-ticks" of the job's read or write side
  local d=read
  if [[ "$2" == *write* ]]; then d='write'; fi
  jq -r --arg d "$d" --arg u "$3" '.jobs[0] as $j | $j[$d] as $x |
      [ (if $u == "MB/s" then $x.bw_bytes / 1e6 else $x.iops end),
        (($x.clat_ns.percentile["50.000000"] // 0) / 1000),
        (($x.clat_ns.percentile["99.000000"] // 0) / 1000),
        $x.total_ios,
        (($j.usr_cpu + $j.sys_cpu) / 100 * $j.job_runtime / 10) ] | @tsv' "$1"
}

# ---------------------------------------------------------------- tables
has_row() { # name: the row was selected (--rows)
  local x
  for x in "${rows[@]}"; do [ "${x%%|*}" = "$1" ] && return 0; done
  return 1
}
fmt() { # printf format, value; "-" when empty
  # shellcheck disable=SC2059 # the format is always a literal of the script
  if [ -n "$2" ]; then printf "$1" "$2"; else echo -; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }
median() { grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

print_load() { # the others' CPU during the runs (column 9 of $results) and the load average now
  local foreign_med foreign_max
  foreign_med="$(cut -f9 "$results" | median)" foreign_max="$(cut -f9 "$results" | sort -g | tail -1)"
  echo "CPU used by other processes during the runs: median ${foreign_med}%, max ${foreign_max}% of all CPUs$(awk -v m="$foreign_max" 'BEGIN { if (m > 5) print "  <-- the machine was not idle: figures are unreliable" }')"
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

finish_summary() { # summary.txt = meta.txt + the table
  cat "$out/meta.txt" "$out/table.txt" >"$out/summary.txt" && rm -f "$out/table.txt"
}
