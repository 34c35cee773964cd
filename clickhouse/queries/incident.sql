-- One incident's latest state (full JSON detail), by id or by a unique id prefix.
SELECT detail
FROM {database}.incidents FINAL
WHERE startsWith(toString(id), {id:String})
ORDER BY updated_at DESC
LIMIT 2
