#!/usr/bin/env bash
# faultcheck.sh: the fault-injection checker, long run. ZooKeeper and 3 hablock nodes in network
# namespaces, a client writing versioned, checksummed blocks to a 3-copy volume through its
# owner, and N faults at random (kills, link cuts, SIGSTOP pauses, ZooKeeper-only cuts, kills at
# the end of a rebuild). Run with --help; see bench/README.md for how to read it.
set -euo pipefail

here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
repo="$(cd "$here/.." && pwd)"
jar="$repo/cli/target/hablock.jar"
classes="$repo/cli/target/test-classes"

usage() {
  cat <<EOF2
Usage: bench/faultcheck.sh [options]

Starts ZooKeeper and nodes v1..v3 (hablock server), each in a network namespace of its own,
joined by a bridge in a private subnet (10.99.0.0/24 by default, existing only inside the
namespaces), creates a 3-copy volume 'fc' and keeps writing 4 KiB blocks (block number,
version, CRC32C, random payload; FUA) through its owner from a client namespace, recording
every acknowledged write. Then, N times: injects a fault, measures the time until a write is
acknowledged again (by the new owner when the owner was hit: the failover time), checks that
the old owner refuses writes (on a connection opened before the fault and on a new one) and
does not answer reads with old data (reads of blocks rewritten through the new owner, sent on
a connection opened before the fault), reads every block back through the current owner,
runs 'hablock volume verify', restores the node (restart, heal, SIGCONT), waits for 3 in-sync
copies, and checks all that again.

Faults:
  kill-owner, kill-copy, kill-controller   SIGKILL; restarted later
  cut-owner, cut-copy      the node's link down (a partition); up again after the failover
  pause-owner, pause-copy  SIGSTOP for the session timeout + 3 s at least (the owner: until
                           the failover and newer writes, with reads and a write sent to it
                           while it is stopped), then SIGCONT
  zk-cut-owner             nftables drops only the owner's ZooKeeper traffic (TCP port 2181)
                           for the session timeout + 3 s at least; its copies and clients still
                           reach it; then the rules are deleted
  kill-owner-at-rebuild-end     a copy is killed and restarted; the owner is SIGKILLed while
                                its rebuild holds between "all data sent" and "copy in sync"
  kill-owner-after-rebuild-end  same, right after the copy was recorded in sync
  (the rebuild-end kinds start every node with --test-delay rebuild.before-promote=3s or
  rebuild.after-promote=3s: the node holds there, logs "test delay: ...", and is killed then)

Options:
  --cycles N            faults to inject (default 20)
  --faults LIST         comma-separated kinds to choose from (default: all ten)
  --order random|sequence  pick at random (default) or take LIST in turn
  --seed S              random seed (default: printed at the start)
  --session-timeout-ms MS  the nodes' ZooKeeper session timeout (default 5000)
  --subnet A.B.C        the namespaces' /24 (default 10.99.0)
  --writers N           client connections writing at once, each its own blocks (default 4)
  --light               verify only once the node is back, not also right after the fault
  --race                start every node with test delays around rebuilds
                        (agent.pass-with-rebuild=2s, rebuild.before-promote=3s,
                        rebuild.after-promote=3s): those races happen on every rebuild
  --test-delay STEP=DURATION[xCOUNT]  a further delay for every node (repeatable; steps:
                        rebuild.before-promote, rebuild.after-promote, agent.pass-with-rebuild,
                        owner.write, owner.read)
  --dir DIR             data directories and logs (default: a new directory under
                        bench/results/faultcheck-<timestamp>); kept after the run
  -h, --help            this help

Prints one block per fault and a summary at the end: faults by kind, acknowledged writes,
acknowledged writes lost, stale reads, corrupt blocks, moments with two owners accepting
writes, stale reads from an old owner, epoch changes and epochs with two owners, verify
failures, failover time min/median/max. Exit 0 when the loss, staleness, corruption,
two-owner and verify counts are all 0 and no problem was listed.
Namespaces and processes are removed at the end, also on failure and Ctrl-C (a stopped node
gets SIGCONT or SIGKILL).

Needs: root, iproute2 (ip netns), nftables (nft, for zk-cut-owner), java 17. Builds cli/target
with Maven when missing.
EOF2
}

args=() dir="" faults="all"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dir) dir="$2"; shift 2 ;;
    --faults) faults="$2"; args+=("$1" "$2"); shift 2 ;;
    --cycles|--order|--seed|--session-timeout-ms|--subnet|--writers|--test-delay) args+=("$1" "$2"); shift 2 ;;
    --light|--race) args+=("$1"); shift ;;
    *) echo "faultcheck.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case " ${args[*]:-} " in *" --cycles "*) ;; *) args+=(--cycles 20) ;; esac

[ "$(id -u)" = 0 ] || { echo "faultcheck.sh: needs root (network namespaces)" >&2; exit 2; }
command -v ip >/dev/null || { echo "faultcheck.sh: needs iproute2: apt-get install iproute2" >&2; exit 2; }
case ",${faults// /}," in
  ,all,|*,zk-cut-owner,*) command -v nft >/dev/null \
    || { echo "faultcheck.sh: zk-cut-owner needs nftables: apt-get install nftables" >&2; exit 2; } ;;
esac
if [ ! -f "$jar" ] || [ ! -d "$classes/io/hablock/cli/acceptance/fault" ]; then
  echo "faultcheck.sh: building cli/target (hablock.jar and the test classes) ..." >&2
  (cd "$repo" && mvn -B -q -ntp package -DskipTests -pl cli -am)
fi
dir="${dir:-$here/results/faultcheck-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
cp=("$jar:$classes")

# shellcheck disable=SC2317 # called by the trap
cleanup() { java -cp "${cp[0]}" io.hablock.cli.acceptance.fault.FaultCheck --cleanup "$dir" || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

status=0
java -Xmx256m -cp "${cp[0]}" io.hablock.cli.acceptance.fault.FaultCheck --dir "$dir" "${args[@]}" \
  | tee "$dir/faultcheck.out" || status=$?
echo "output and node logs: $dir"
exit "$status"
