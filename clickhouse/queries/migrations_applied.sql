-- The numbered migrations that ran, with the checksum of each file as it ran. No parameters.
SELECT version, name, checksum
FROM {database}.schema_migrations
ORDER BY version
