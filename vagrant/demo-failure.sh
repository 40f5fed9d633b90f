#!/usr/bin/env bash
# The node failure story of ../README.md on the four VMs of this directory's Vagrantfile:
# two replicated volumes, data written through NBD, the owner of wp_mysql-data powered off
# (`vagrant halt --force`), failover to a node with an in-sync copy, the lost copy rebuilt,
# the data read back through the new owner, then the node powered on again and `normal`.
#
#   vagrant up && ./demo-failure.sh
#
# Every cluster command is shown as it runs on a VM (root@vN:~# hablock ...). Running it
# again reuses the volumes. Exit status 1 when something does not happen as it should.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"

# As in the Vagrantfile.
declare -A IP=([v1]=192.168.56.11 [v2]=192.168.56.12 [v3]=192.168.56.13 [v4]=192.168.56.14)
VMS=(v1 v2 v3 v4)
VOLUME=wp_mysql-data
DATA_MIB=64
WAIT_SECONDS=90

step() { printf '\n== %s\n' "$*"; }
fail() { echo "demo-failure.sh: $*" >&2; exit 1; }

# Runs a command on a VM as root (the cluster's credentials are readable by root and the node's
# group only; `vagrant ssh` logs in as vagrant), showing it first (on stderr) as the walkthrough does.
on() {
  local vm=$1
  shift
  printf 'root@%s:~# %s\n' "$vm" "$*" >&2
  vagrant ssh "$vm" --no-tty -c "sudo sh -c $(printf '%q' "$*")"
}

# Runs a command on a VM as root for this script's own use: its output, no echo, stderr dropped.
ask() {
  vagrant ssh "$1" --no-tty -c "sudo sh -c $(printf '%q' "$2")" 2>/dev/null
}

# A field of `hablock volume info NAME --json`, asked on VM $1.
volume_field() {
  ask "$1" "hablock volume info $2 --json" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$3" 2>/dev/null
}

# The STATUS column of `hablock node ls` for node $2, asked on VM $1.
node_status() {
  ask "$1" "hablock node ls" | awk -v n="$2" '$1 == n { print $5 }'
}

# The first VM that is not $1.
other_than() {
  local vm
  for vm in "${VMS[@]}"; do
    if [ "$vm" != "$1" ]; then
      echo "$vm"
      return
    fi
  done
}

# Conditions to wait for, asked on VM $watcher.
node_is() { [ "$(node_status "$watcher" "$1")" = "$2" ]; }
volume_is() { [ "$(volume_field "$watcher" "$VOLUME" health)" = "$1" ]; }
owner_moved() {
  new_owner=$(volume_field "$watcher" "$VOLUME" owner) && [ "$new_owner" != "$owner" ] && [ "$new_owner" != - ]
}

# Runs the command "$2..." every 2 s until it succeeds; fails after WAIT_SECONDS.
wait_for() {
  local what=$1 waited=0
  shift
  until "$@"; do
    if [ "$waited" -ge "$WAIT_SECONDS" ]; then
      fail "gave up after ${WAIT_SECONDS} s waiting for $what"
    fi
    sleep 2
    waited=$((waited + 2))
  done
  echo "($what after about ${waited} s)"
}

command -v vagrant >/dev/null || fail "vagrant is not installed"
command -v python3 >/dev/null || fail "python3 is needed (it parses hablock's JSON)"
running=$(vagrant status --machine-readable | grep -c ',state,running$' || true)
[ "$running" -eq 4 ] || fail "$running of 4 VMs are running: start them with 'vagrant up' first"

step "1. Four nodes, v1..v3 also the ZooKeeper ensemble"
on v1 hablock node ls

step "2. Create the volumes: portainer (2 copies), $VOLUME (3 copies)"
for spec in "portainer 2G 2" "$VOLUME 1G 3"; do
  read -r name size copies <<<"$spec"
  if ask v1 "hablock volume info $name" >/dev/null; then
    echo "$name exists from an earlier run"
  else
    on v1 hablock volume create "$name" --size "$size" --copies "$copies"
  fi
done
on v1 hablock volume ls

owner=$(volume_field v1 "$VOLUME" owner) || fail "cannot read the owner of $VOLUME"
# Another node: the client of the volume, and where the cluster is watched from while $owner is off.
peer=$(other_than "$owner")
step "3. Write ${DATA_MIB} MiB of random data to $VOLUME through its owner $owner (from $peer)"
written=$(on "$peer" "head -c ${DATA_MIB}M /dev/urandom > /tmp/demo.img &&
  nbdcopy --flush /tmp/demo.img nbd://${IP[$owner]}:10809/$VOLUME && sha256sum < /tmp/demo.img" | cut -d' ' -f1)
echo "$written"

step "4. Power off $owner, the owner of $VOLUME"
vagrant halt --force "$owner"
watcher=$peer
new_owner=
wait_for "$owner in maintenance" node_is "$owner" maintenance
wait_for "a new owner for $VOLUME" owner_moved
on "$watcher" hablock node ls
on "$watcher" hablock volume ls

step "5. Read $VOLUME back through its new owner $new_owner"
read_back=$(on "$peer" "nbdcopy nbd://${IP[$new_owner]}:10809/$VOLUME - | head -c ${DATA_MIB}M | sha256sum" |
  cut -d' ' -f1)
echo "$read_back"
[ "$read_back" = "$written" ] || fail "read back $read_back, but $written was written"
echo "the same data: no acknowledged write lost"

step "6. What happened: failover, rebuild"
wait_for "$VOLUME healthy again (its lost copy rebuilt)" volume_is healthy
on "$watcher" hablock events

step "7. Power $owner on again: it rejoins"
vagrant up --no-provision "$owner"
wait_for "$owner normal" node_is "$owner" normal
on "$watcher" hablock node ls
on "$watcher" hablock volume ls
on "$watcher" "hablock events | tail -n 5"

echo
echo "demo passed: $owner failed, $VOLUME moved to $new_owner with its data, $owner is back"
