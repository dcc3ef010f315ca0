#!/bin/sh
# Captures real PostgreSQL 15 output for steps/postgres's parser tests:
# a primary and a streaming standby on Unix sockets only (no TCP).
set -e
B=/usr/lib/postgresql/15/bin
OUT=$1
T=$(mktemp -d /tmp/pgcap.XXXX); chown postgres $T
trap 'su postgres -s /bin/sh -c "$B/pg_ctl -D $T/p -m immediate stop; $B/pg_ctl -D $T/s -m immediate stop" >/dev/null 2>&1 || true; rm -rf $T' EXIT
as() { su postgres -s /bin/sh -c "cd /tmp && $1"; }
Q1="SELECT 'node', pg_is_in_recovery(), pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() END, pg_last_xact_replay_timestamp(), CASE WHEN pg_is_in_recovery() THEN round(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::numeric, 3) END, (SELECT status FROM pg_stat_wal_receiver LIMIT 1)"
Q2="SELECT 'replica', application_name, client_addr, state, sent_lsn, replay_lsn, sync_state, round(COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)::numeric, 3) FROM pg_stat_replication"
status() { as "$B/psql -X -A -t -q -v ON_ERROR_STOP=1 -p $1 -d postgres -h $T/$2 -c \"$Q1\" -c \"$Q2\""; }
as "$B/initdb -D $T/p -A trust -U postgres >/dev/null && mkdir $T/sp $T/ss"
cat >> $T/p/postgresql.conf <<EOC
listen_addresses = ''
port = 54391
unix_socket_directories = '$T/sp'
wal_level = replica
EOC
echo "local replication replicator scram-sha-256" > $T/hba; cat $T/p/pg_hba.conf >> $T/hba; cp $T/hba $T/p/pg_hba.conf
as "$B/pg_ctl -D $T/p -l $T/p.log -w start" >/dev/null
as "$B/psql -X -q -h $T/sp -p 54391 -d postgres -c \"CREATE ROLE replicator REPLICATION LOGIN PASSWORD 'capture-pw'\""
# The password reaches pg_basebackup as hamnflow passes it: on stdin, into PGPASSWORD.
echo capture-pw | as "IFS= read -r PGPASSWORD; export PGPASSWORD; $B/pg_basebackup -h $T/sp -p 54391 -U replicator -D $T/s -R -X stream -c fast -w"
grep -o "password=[^ ]*" $T/s/postgresql.auto.conf > $OUT/basebackup_auto_conf_password.txt || echo "no password in postgresql.auto.conf" > $OUT/basebackup_auto_conf_password.txt
printf "port = 54392\nunix_socket_directories = '$T/ss'\n" >> $T/s/postgresql.conf
as "chmod 700 $T/s; $B/pg_ctl -D $T/s -l $T/s.log -w start" >/dev/null
as "$B/psql -X -q -h $T/sp -p 54391 -d postgres -c 'CREATE TABLE t(x int); INSERT INTO t VALUES (1)'"
sleep 1
status 54391 sp > $OUT/status_primary_streaming.txt
status 54392 ss > $OUT/status_standby_streaming.txt
as "$B/pg_controldata -D $T/s" > $OUT/controldata_standby_running.txt
as "$B/pg_ctl -D $T/p -m fast -w -t 120 stop" >/dev/null
as "$B/pg_controldata -D $T/p" > $OUT/controldata_primary_stopped.txt
sleep 1
status 54392 ss > $OUT/status_standby_primary_gone.txt
status 54391 sp > $OUT/status_down.txt 2>&1 || echo "exit $?" >> $OUT/status_down.txt
as "$B/pg_ctl -D $T/s -m fast -w -t 120 stop" >/dev/null
as "$B/pg_controldata -D $T/s" > $OUT/controldata_standby_stopped.txt
as "$B/pg_ctl -D $T/s -l $T/s.log -w start" >/dev/null
as "$B/pg_ctl -D $T/s promote -w -t 120" >/dev/null
status 54392 ss > $OUT/status_promoted.txt
as "$B/pg_ctl -D $T/s -m fast -w -t 120 stop" >/dev/null
as "$B/pg_controldata -D $T/s" > $OUT/controldata_promoted_stopped.txt
