#!/usr/bin/env bash
# Creates the Yelb database and its restaurants table with the four
# restaurants at zero votes. Safe to run again: nothing that exists is
# changed, so existing votes are kept. The postgres image runs it on the
# first start of an empty volume; libpq variables (PGHOST, PGPORT,
# PGPASSWORD) let it run against any server.
set -euo pipefail

db="${YELB_DB_NAME:-yelbdatabase}"
psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}")

"${psql[@]}" --dbname postgres -v db="$db" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL

"${psql[@]}" --dbname "$db" <<'SQL'
CREATE TABLE IF NOT EXISTS restaurants (
    name  char(30) PRIMARY KEY,
    count integer
);
INSERT INTO restaurants (name, count)
VALUES ('outback', 0), ('bucadibeppo', 0), ('chipotle', 0), ('ihop', 0)
ON CONFLICT (name) DO NOTHING;
SQL
