#!/bin/sh
# wp_db's program in the Swarm story (bench/swarm-demo.sh and vagrant/swarm-demo.sh run it in a
# container of an image with Debian's mariadb-server-core and mariadb-client-core): MariaDB on
# the hablock volume mounted at /var/lib/mysql (InnoDB, innodb_flush_log_at_trx_commit=1: a
# committed INSERT is in the redo log on the disk). Each record is a row (N, MD5 of "record-N"),
# committed on its own; only then is N counted acknowledged, in /acks/acked, outside the volume.
# A task goes on from the database's last row, and first notes that row in table resumes (with
# its host and the time): records lost and written again would otherwise look the same as
# records kept.
d=/var/lib/mysql/db
s=/run/mysqld/s.sock
mkdir -p "$d" /run/mysqld
if [ ! -d "$d/mysql" ]; then
  mariadb-install-db --user=root --datadir="$d" --skip-test-db >/var/log/install-db.log 2>&1 || exit 1
fi
mariadbd --user=root --datadir="$d" --socket="$s" --skip-networking --skip-log-bin --innodb-use-native-aio=0 \
  --innodb-buffer-pool-size=32M --innodb-flush-log-at-trx-commit=1 >/var/log/mariadbd.log 2>&1 &
n=0
until mariadb -S "$s" -e "SELECT 1" >/dev/null 2>&1; do
  n=$((n + 1))
  [ "$n" -lt 600 ] || exit 1
  sleep 0.2
done
q() { mariadb -S "$s" -N -B -e "$1"; }
q "CREATE DATABASE IF NOT EXISTS wp;
  CREATE TABLE IF NOT EXISTS wp.r (i INT PRIMARY KEY, h CHAR(32) NOT NULL) ENGINE=InnoDB;
  CREATE TABLE IF NOT EXISTS wp.resumes (n INT AUTO_INCREMENT PRIMARY KEY, at INT, host VARCHAR(64), t BIGINT) ENGINE=InnoDB" || exit 1
i=$(q "SELECT coalesce(max(i), 0) FROM wp.r") || exit 1
q "INSERT INTO wp.resumes (at, host, t) VALUES ($i, '$(hostname)', $(date +%s))" || exit 1
while true; do
  i=$((i + 1))
  h=$(echo "record-$i" | md5sum | cut -c1-32)
  q "INSERT INTO wp.r VALUES ($i, '$h')" || exit 1
  echo "$i" >/acks/acked.tmp
  mv /acks/acked.tmp /acks/acked
done
