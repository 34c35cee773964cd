-- The full id of the incident a prefix names (two rows: the prefix is ambiguous).
SELECT DISTINCT toString(id) AS id
FROM {database}.incidents
WHERE startsWith(toString(id), {id:String})
LIMIT 2
