-- Merges all parts of table {table} (a checked identifier) now, as a bench does after loading so
-- it times queries over merged data. No parameters.
OPTIMIZE TABLE {database}.{table} FINAL
