# test/cluster.sh: sourced helper.  cluster_start starts a throwaway
# PostgreSQL 15 cluster in a temp dir (as the postgres OS user when run as
# root, since initdb refuses root), with pg_cron preloaded and its unix
# socket in that dir; it exports PGHOST/PGPORT/PGUSER/PGDATABASE so psql and
# `make installcheck` reach it, and an EXIT trap stops and removes it.
# The Debian "main" cluster on 5432 is neither used nor touched.

PG_BINDIR=$(pg_config --bindir)
PG_RUNAS=postgres

# Run a command as the postgres OS user when root, else as ourselves.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_RUNAS" -- "$@"; else "$@"; fi
}

# First port from $1 up whose socket file is free and with no TCP listener.
cluster_free_port() {
  local p=$1
  while [ -e "/tmp/.s.PGSQL.$p" ] || [ -e "/var/run/postgresql/.s.PGSQL.$p" ] ||
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
    p=$((p + 1))
  done
  echo "$p"
}

cluster_start() {
  CLUSTER_DIR=$(mktemp -d /tmp/hybridpref-pg.XXXXXX)
  chmod 755 "$CLUSTER_DIR"
  [ "$(id -u)" -ne 0 ] || chown "$PG_RUNAS": "$CLUSTER_DIR"
  local port here=$PWD
  port=$(cluster_free_port "${HP_PGPORT:-54329}")
  trap cluster_stop EXIT
  # From a dir the postgres user can enter (the tree may be under /root).
  cd "$CLUSTER_DIR"
  as_pg "$PG_BINDIR/initdb" -D "$CLUSTER_DIR/data" -U postgres -A trust \
    -E UTF8 --locale=C --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1 ||
    { cat "$CLUSTER_DIR/initdb.log"; return 1; }
  cat >>"$CLUSTER_DIR/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$CLUSTER_DIR'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.host = '$CLUSTER_DIR'
max_parallel_workers_per_gather = 2
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  as_pg "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -t 60 start >/dev/null ||
    { cat "$CLUSTER_DIR/server.log"; return 1; }
  cd "$here"
  export PGHOST=$CLUSTER_DIR PGPORT=$port PGUSER=postgres PGDATABASE=postgres
  echo "cluster: started on port $port, socket and data in $CLUSTER_DIR"
}

cluster_stop() {
  [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ] || return 0
  cd /
  as_pg "$PG_BINDIR/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  if [ -n "${HP_KEEP_CLUSTER:-}" ]; then
    echo "cluster: stopped, kept $CLUSTER_DIR"
  else
    rm -rf "$CLUSTER_DIR"
  fi
  CLUSTER_DIR=
}
