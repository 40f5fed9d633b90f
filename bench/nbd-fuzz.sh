#!/usr/bin/env bash
# nbd-fuzz.sh: hostile and broken NBD clients against one hablock node, with a canary client and
# the node's RSS watched. Run with --help for what it does; see bench/README.md for the output.
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
prog=nbd-fuzz
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
die() { echo "$prog: $*" >&2; exit 2; } # a setup error: exit status 2 (1 is a failed run)
cmdline="$(printf '%q ' "$0" "$@")"; cmdline="${cmdline% }"

usage() {
  cat <<EOF
Usage: bench/nbd-fuzz.sh [options]

Starts one hablock node (its embedded ZooKeeper, everything on free ports of 127.0.0.1, data
in a temporary directory), creates two volumes, 'fuzz' (64M, attacked) and 'canary' (16M), and
runs bench/nbd_fuzz.py against the node for --duration seconds: --workers threads run these
attacks in rotation, several at once:
  random         random bytes on fresh connections (also after valid client flags or a GO)
  handshake      fixed newstyle transcripts with flipped bytes, truncations, insertions, huge
                 and zero option lengths, unknown and repeated options, odd export names
  requests       after a valid handshake: random commands, flags, offsets (past the end, near
                 2^63 and 2^64), lengths 0..2^32-1, bad magics, WRITE payloads cut short
  pipeline       thousands of 256 KiB READs whose replies are never read, connection held
  partial-write  connections each sending 32 MiB - 1 of a 32 MiB WRITE, then nothing
  slowloris      a handshake sent one byte every 2-4 s, on 8 to 32 connections
  flood          thousands of idle connections held open (up to the fuzzer's own fd limit)
The attacks connect from 127.0.1.1-4 and the flood from 127.0.2.1-4 (each address meets the
node's cap per client address), the canary from 127.0.0.1.
Every byte the node sends is checked against the NBD spec (magics, option reply types, cookies
of the requests in flight, error values, structured reply chunks); a close is fine.
Meanwhile a canary process writes and reads back 4 KiB every 200 ms on volume 'canary', and
opens a new connection for a 4 KiB READ of 'fuzz' every 2 s; the node's RSS is sampled every
second. The table at the end ends in a RESULT line: PASS when the node is alive, its peak RSS
is below 512 MiB, no answer broke the spec, every canary round took under 1 s and the
fuzzer itself had no error (its errors are printed, never silent).

Options:
  --duration SEC   how long to fuzz (default 600)
  --workers N      attack threads (default 8)
  --seed N         seed of the mutations, for a reproducible mix (default 1)
  --kinds LIST     only these attacks, comma-separated (default: all of the above)
  --jar FILE       the hablock jar to run (default cli/target/hablock.jar)
  --keep           keep the temporary directory (data, secret) after the run
  -h, --help       this help

Environment: HABLOCK_JAVA_OPTS replaces the node's JVM options; MALLOC_ARENA_MAX and
MALLOC_MMAP_THRESHOLD_ default to 2 and 131072 as ./hablock sets them for a server
(default: -Xms64m -Xmx256m -XX:+UseG1GC -XX:MaxDirectMemorySize=1g, as ./hablock uses).

Exit status: 0 PASS, 1 FAIL, 2 setup error. Needs java 17 and python3. The node's log, the
RSS samples and the table go to bench/results/<timestamp>-fuzz/.
EOF
}

duration=600 workers=8 seed=1 jar_arg="" keep=0 kinds=random,handshake,requests,pipeline,partial-write,slowloris,flood
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --duration) [ -n "${2:-}" ] || die "--duration needs a value"; duration="$2"; shift 2 ;;
    --duration=*) duration="${1#*=}"; shift ;;
    --workers) [ -n "${2:-}" ] || die "--workers needs a value"; workers="$2"; shift 2 ;;
    --workers=*) workers="${1#*=}"; shift ;;
    --seed) [ -n "${2:-}" ] || die "--seed needs a value"; seed="$2"; shift 2 ;;
    --seed=*) seed="${1#*=}"; shift ;;
    --kinds) [ -n "${2:-}" ] || die "--kinds needs a list"; kinds="$2"; shift 2 ;;
    --kinds=*) kinds="${1#*=}"; shift ;;
    --jar) [ -n "${2:-}" ] || die "--jar needs a file"; jar_arg="$2"; shift 2 ;;
    --jar=*) jar_arg="${1#*=}"; shift ;;
    --keep) keep=1; shift ;;
    *) echo "$prog: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$duration" =~ ^[1-9][0-9]*$ ]] || die "--duration must be a positive number of seconds"
[[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive integer"
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed must be a non-negative integer"
[[ "$kinds" =~ ^(random|handshake|requests|pipeline|partial-write|slowloris|flood)(,(random|handshake|requests|pipeline|partial-write|slowloris|flood))*$ ]] ||
  die "--kinds: a comma-separated list of random handshake requests pipeline partial-write slowloris flood"
if [ -n "$jar_arg" ]; then
  [ -f "$jar_arg" ] || die "--jar $jar_arg: no such file"
  jar="$(readlink -f "$jar_arg")"
fi

command -v python3 >/dev/null || die "missing: python3 (apt-get install python3)"
command -v java >/dev/null || die "missing: java 17 (apt-get install openjdk-17-jdk-headless)"
[ -f "$jar" ] || die "hablock is not built ($jar is missing): run './hablock --help' once, which builds it"
if [ -z "$jar_arg" ] && [ -n "$(find "$repo" \( -name .git -o -name target -o -name bench \) -prune -o \
    \( -name '*.java' -o -name pom.xml -o -path '*/src/main/resources/*' \) -type f -newer "$jar" -print -quit)" ]; then
  note "warning: $jar is older than the sources; run './hablock --help' to rebuild it"
fi
read -r -a java_opts <<<"${HABLOCK_JAVA_OPTS:--Xms64m -Xmx256m -XX:+UseG1GC -XX:MaxDirectMemorySize=1g}"
# As ./hablock runs a server: few glibc malloc arenas, a fixed mmap threshold.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"

# ---------------------------------------------------------------- work space, cleanup
make_workspace "-fuzz"
mounted=0 shm_dir=""
server_pid="" fuzz_pid=""

# shellcheck disable=SC2317 # run by the EXIT trap (shellcheck takes the final exit for the end of the flow)
cleanup() {
  local rc=$? i
  trap - EXIT
  trap '' INT TERM
  if [ -n "$fuzz_pid" ] && kill -0 "$fuzz_pid" 2>/dev/null; then
    # interrupted: the fuzzer stops its workers and the canary and still prints its table
    kill -TERM "$fuzz_pid" 2>/dev/null || true
    for ((i = 0; i < 1000; i++)); do kill -0 "$fuzz_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$fuzz_pid" 2>/dev/null || true
    wait "$fuzz_pid" 2>/dev/null || true
    [ ! -s "$out/table.txt" ] || cat "$out/table.txt"
  fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then
    note "kept $tmp (data directory, secret file); remove it yourself"
  else
    remove_workspace
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() { # nothing listens on 127.0.0.1:PORT
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
wait_port() { # port pid log
  local i
  for ((i = 0; i < 600; i++)); do
    alive "$2" || { tail -20 "$3" >&2; die "the hablock node exited during startup (log: $3)"; }
    if ! port_free "$1"; then return; fi
    sleep 0.1
  done
  die "the hablock node did not listen on port $1 within 60 s (log: $3)"
}

# ---------------------------------------------------------------- the node and its volumes
git_rev="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
{
  echo "command: $cmdline"
  echo "machine: nproc=$(nproc), kernel $(uname -r); $(java -version 2>&1 | head -1); $(python3 --version 2>&1)"
  echo "hablock: $jar (checkout $git_rev); JVM ${java_opts[*]}; open-file limit of the node $(ulimit -n)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/meta.txt"

nport="$(pick_port)" zport="$(pick_port)" rport="$(pick_port)"
data="$tmp/data"
mkdir -p "$data"
main_class="$(unzip -p "$jar" META-INF/MANIFEST.MF 2>/dev/null | tr -d '\r' | sed -n 's/^Main-Class: *//p')"
main_class="${main_class:-io.hablock.cli.Main}"
secret_opt=()
if java -cp "$jar" "$main_class" server --help 2>/dev/null | grep -q -- '--secret-file'; then
  secret_opt=(--secret-file "$tmp/cluster.secret") # the node makes it; the CLI reads it
fi
# Started by class name (not -jar) so that a broad `pkill -f "hablock.jar server"` by someone
# else on a shared machine does not stop it mid-run.
# GC pauses with the JVM's uptime, to match the canary's slow rounds against.
java "${java_opts[@]}" "-Xlog:gc*,safepoint:file=$out/gc.log:uptime,level,tags" -cp "$jar" "$main_class" server --data-dir "$data" --listen "127.0.0.1:$nport" \
  --zk-listen "127.0.0.1:$zport" --replication-listen "127.0.0.1:$rport" --metrics-listen off \
  --name fuzz-node "${secret_opt[@]}" >"$out/hablock.log" 2>&1 &
server_pid=$!
wait_port "$zport" "$server_pid" "$out/hablock.log"
wait_port "$nport" "$server_pid" "$out/hablock.log"
for v in fuzz:64M canary:16M; do
  java -cp "$jar" "$main_class" volume create "${v%%:*}" --size "${v#*:}" --zk "127.0.0.1:$zport" "${secret_opt[@]}" \
    >>"$out/volume-create.log" 2>&1 || { cat "$out/volume-create.log" >&2; die "hablock volume create ${v%%:*} failed"; }
done
note "node pid $server_pid on 127.0.0.1:$nport; fuzzing for $duration s; results in $out"

# ---------------------------------------------------------------- the fuzzer
rc=0
# In the background, so that a signal reaches cleanup at once (bash runs traps between commands)
python3 "$here/nbd_fuzz.py" --host 127.0.0.1 --port "$nport" --export fuzz --canary-export canary \
  --duration "$duration" --workers "$workers" --seed "$seed" --kinds "$kinds" --server-pid "$server_pid" \
  --rss-log "$out/rss.tsv" >"$out/table.txt" &
fuzz_pid=$!
wait "$fuzz_pid" || rc=$?
fuzz_pid=""
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
  cat "$out/table.txt" >&2
  die "nbd_fuzz.py could not run (exit status $rc)"
fi

# ---------------------------------------------------------------- what the node logged
{
  grep -v '^RESULT:' "$out/table.txt"
  echo "node log ($out/hablock.log): $(grep -c -i 'too many open files' "$out/hablock.log" || true) line(s) with" \
    "'Too many open files', $(grep -c -E 'OutOfMemoryError|OutOfDirectMemoryError' "$out/hablock.log" || true) with" \
    "'OutOfMemoryError' (direct or heap), $(grep -c -E '^[0-9T:.-]+ (WARN|ERROR)' "$out/hablock.log" || true) WARN/ERROR lines in all"
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  grep '^RESULT:' "$out/table.txt" || echo "RESULT: FAIL (nbd_fuzz.py printed no result)"
} | tee "$out/table.tmp"
mv "$out/table.tmp" "$out/table.txt"
cat "$out/meta.txt" "$out/table.txt" >"$out/summary.txt"
exit "$rc"
