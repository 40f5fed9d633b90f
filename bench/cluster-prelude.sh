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

# ---------------------------------------------------------------- the cluster
start_cluster() { # [extra 'cluster up' options]: 3 nodes and ZooKeeper, pinned with pin_cluster; sets
  # zk_pid, node_names, node_pid, node_ip, node_port (from 'node ls'), all_pids, node_pid_list
  note "starting the cluster"
  cluster_started=1 # from here on, cleanup stops whatever cluster.json lists
  # taskset on 'cluster up' pins the processes it starts too: CPU affinity is inherited.
  if ! run_child --finish "${pin_cluster[@]}" java -jar "$jar" cluster up --nodes 3 --ip-base "$ip_base" \
      --zk-port "$zk_port" --dir "$cdir" "$@" >"$out/cluster-up.log" 2>&1; then
    cat "$out/cluster-up.log" >&2
    die "hablock cluster up failed (logs: $out)"
  fi
  zk_pid="$(pid_of zookeeper)"
  node_names=(v1 v2 v3)
  declare -gA node_pid node_ip node_port
  hablock node ls --zk "$zk" --json >"$out/nodes.json" 2>"$tmp/nodes.err" || { cat "$tmp/nodes.err" >&2; die "hablock node ls failed"; }
  local v
  for v in "${node_names[@]}"; do
    node_pid[$v]="$(pid_of "$v")"
    [[ "${node_pid[$v]}" =~ ^[0-9]+$ ]] || die "no pid for node $v in $cdir/cluster.json"
    node_ip[$v]="$(jq -r --arg n "$v" '.[] | select(.name == $n) | .ip' "$out/nodes.json")"
    node_port[$v]="$(jq -r --arg n "$v" '.[] | select(.name == $n) | .nbdPort' "$out/nodes.json")"
    [ -n "${node_ip[$v]}" ] || die "node $v is not in 'hablock node ls' (see $out/nodes.json)"
  done
  all_pids=("$zk_pid" "${node_pid[@]}")
  node_pid_list="$(IFS=,; echo "${node_pid[*]}")"
}
pid_of() { jq -r --arg n "$1" '.processes[] | select(.name == $n) | .pid' "$cdir/cluster.json"; }

# ---------------------------------------------------------------- results
col() { # row volume-or-target field (columns of the script's runs.tsv): the median over the rounds, empty when not measured
  awk -F'\t' -v r="$1" -v t="$2" -v f="$3" '$1 == r && $2 == t { print $f }' "$results" | median
}
peak_rss_of_cluster() { # sets hwm[node] and zk_hwm (MiB; ? when gone)
  declare -gA hwm
  local v
  for v in "${node_names[@]}"; do
    hwm[$v]="$(peak_rss_mib "${node_pid[$v]}")"
  done
  zk_hwm="$(peak_rss_mib "$zk_pid")"
}
