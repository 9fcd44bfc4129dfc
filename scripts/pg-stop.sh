#!/usr/bin/env bash
# Stops a PostgreSQL started by scripts/pg-start.sh and removes its temp dir.
set -uo pipefail
dir=${1:?usage: pg-stop.sh DIR}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
else
  "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
fi
rm -rf "$dir"
