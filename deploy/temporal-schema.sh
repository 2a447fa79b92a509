#!/bin/sh
# Creates or upgrades the Temporal server's two databases on PostgreSQL (persistence and visibility), the
# way Temporal documents for its server image: temporal-sql-tool from the admin-tools image. Safe to run
# again: an existing database is kept, and update-schema applies only the versions it lacks.
set -eu
sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" "$@"; }
for database in temporal temporal_visibility; do
  schema=temporal
  [ "$database" = temporal_visibility ] && schema=visibility
  sql --db "$database" create 2>/dev/null || echo "database $database exists"
  sql --db "$database" setup-schema -v 0.0 2>/dev/null || echo "database $database has a schema"
  sql --db "$database" update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
