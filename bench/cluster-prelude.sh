# shellcheck shell=bash disable=SC2034,SC2154 # the globals are shared with the script that sources this file
# cluster-prelude.sh: the part cluster-bench.sh and hop-bench.sh share, sourced after their
# usage(): options, prerequisites, the work space, running children so that Ctrl-C works,
# cleanup (cluster down, logs) on exit, and the ZooKeeper port check.
# The sourcing script sets: prog, results_suffix (e.g. -cluster), curl_missing (what is lost
# without curl), ip_base, zk_port, zk; lib.sh is sourced.

# ---------------------------------------------------------------- options
# all options but --help are common to all benches (common_option in lib.sh) or the script's own
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    *)
      # script_option: a hook for the sourcing script's own options (same contract as common_option)
      { declare -F script_option >/dev/null && script_option "$@"; } || common_option "$@" ||
        { echo "$prog: unknown option '$1'" >&2; usage >&2; exit 2; }
      shift "$nshift" ;;
  esac
done

check_common_options
check_cpus
select_rows

# ---------------------------------------------------------------- prerequisites
check_prerequisites "fio|fio (apt-get install fio)" "java|java 17 (apt-get install openjdk-17-jdk-headless)" \
  "jq|jq (apt-get install jq)"
use_curl=0
if command -v curl >/dev/null; then use_curl=1; else note "curl is missing: $curl_missing (apt-get install curl)"; fi
check_perf
if [ "$cpus" = on ]; then
  pin_cluster=(taskset -c 1) pin_client=(taskset -c 0)
else
  pin_cluster=() pin_client=()
fi
hablock() { java -jar "$jar" "$@"; } # the CLI; the launcher ./hablock might rebuild the jar mid-run

# ---------------------------------------------------------------- work space, cleanup
make_workspace "$results_suffix"
cdir="" cluster_started=0 child_pid="" child_finish=0 perf_pid=""

# Long-running children run in the background and are waited for: a trapped signal (Ctrl-C)
# interrupts "wait" at once, whereas a foreground fio or java that catches SIGINT itself and
# exits normally would make bash ignore the Ctrl-C and carry on with the next run.
run_child() { # [--finish] command...: runs it, returns its exit status
  child_finish=0
  if [ "$1" = --finish ]; then child_finish=1; shift; fi # on a signal, let it finish (do not kill it)
  "$@" &
  child_pid=$!
  local rc=0
  wait "$child_pid" || rc=$?
  child_pid=""
  return "$rc"
}

collect_logs() { # copy the cluster's logs and event log into the results (before the tmpfs goes)
  local f
  [ -n "$cdir" ] || return 0
  for f in "$cdir"/*.log "$cdir/cluster.json"; do
    if [ -f "$f" ]; then cp "$f" "$out/" 2>/dev/null || true; fi
  done
  if [ "$cluster_started" = 1 ]; then
    timeout 20 java -jar "$jar" events --zk "$zk" >"$out/events.txt" 2>&1 || true
  fi
}

cleanup() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM # finish cleaning up even when signalled again
  perf_stop
  if [ -n "$child_pid" ]; then
    # cluster up is let finish, so that cluster.json lists every process it started
    [ "$child_finish" = 1 ] || kill -TERM "$child_pid" 2>/dev/null || true
    wait "$child_pid" 2>/dev/null || true
  fi
  collect_logs
  if [ "$keep" = 1 ] && [ "$cluster_started" = 1 ]; then
    note "kept the cluster running: ZooKeeper $zk, nodes on ${ip_base%.*}.$((${ip_base##*.} + 1))-$((${ip_base##*.} + 3)), data and logs in $cdir"
    note "stop it with: java -jar $jar cluster down --dir $cdir$([ "$mounted" = 1 ] && echo " && umount $mnt")$([ -n "$shm_dir" ] && echo " && rm -rf $shm_dir") && rm -rf $tmp"
  else
    if [ -n "$cdir" ] && [ -f "$cdir/cluster.json" ]; then
      java -jar "$jar" cluster down --dir "$cdir" >"$out/cluster-down.log" 2>&1 ||
        { note "cluster down failed (see $out/cluster-down.log)"; cat "$out/cluster-down.log" >&2; }
    fi
    remove_workspace
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() { # addr port: nothing listens there (ss when present: no probe connection)
  if command -v ss >/dev/null; then
    [ -z "$(ss -Hltn "src $1:$2" 2>/dev/null)" ] && [ -z "$(ss -Hltn "src 0.0.0.0:$2" 2>/dev/null)" ]
  else
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 1; fi
  fi
}
port_free 127.0.0.1 "$zk_port" || die "port $zk_port (ZooKeeper) is in use: another $prog running? (see 'ss -ltnp')"

# ---------------------------------------------------------------- liveness
check_servers() { # hook of run_fio in lib.sh: dies with a clear message when a cluster process is gone;
  # the script sets node_names, node_pid, zk_pid, cdir
  local v
  for v in "${node_names[@]}"; do
    alive "${node_pid[$v]}" ||
      { tail -5 "$cdir/$v.log" >&2; die "node $v (pid ${node_pid[$v]}) exited during the run; log: $out/$v.log"; }
  done
  alive "$zk_pid" || die "ZooKeeper (pid $zk_pid) exited during the run; log: $out/zookeeper.log"
}
