-- 1 when the migration runner's table exists (any migrate has run), else 0: a worker asks before
-- reading schema_migrations, so an empty database reads as "not migrated", not as a query error.
SELECT count()
FROM system.tables
WHERE database = {database_name:String} AND name = 'schema_migrations'
