#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 on loopback in a temp dir and prints shell lines that
# export its URL (SHIPGATE_TEST_DATABASE_URL) and its dir (SHIPGATE_TEST_PGDIR).
# Stop it with scripts/pg-stop.sh "$SHIPGATE_TEST_PGDIR".
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PGBIN/initdb" ]; then
  echo "pg-start: PostgreSQL 15 binaries not found in $PGBIN (set PGBIN)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/shipgate-pg.XXXXXX)
port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"
as_pg "$PGBIN/initdb" -D "$dir/data" -U shipgate --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
echo "export SHIPGATE_TEST_DATABASE_URL=postgres://shipgate@127.0.0.1:$port/postgres"
echo "export SHIPGATE_TEST_PGDIR=$dir"
