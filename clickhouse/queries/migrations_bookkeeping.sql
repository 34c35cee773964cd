-- The migration runner's own tables (clickhouse/migrate.py), created before any migration runs.
-- schema_migrations: one row per numbered migration that ran to its end, with the checksum of the
-- file as it ran (a later edit of that file is refused). No parameters.
CREATE DATABASE IF NOT EXISTS {database};

CREATE TABLE IF NOT EXISTS {database}.schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY version;
