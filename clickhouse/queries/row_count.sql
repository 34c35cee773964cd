-- How many rows table {table} (a checked identifier) holds. No parameters.
SELECT count()
FROM {database}.{table}
