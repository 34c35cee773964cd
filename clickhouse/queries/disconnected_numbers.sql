-- Numbers whose current status (latest status_since up to now; a re-import of the same moment wins
-- by imported_at, as in number_status's ReplacingMergeTree) is 'disconnected', as E.164 text.
-- argMax over the history instead of FINAL: one pass, no merge-on-read.
SELECT concat('+', toString(number)) AS number
FROM {database}.number_status
WHERE status_since <= now64(3)
GROUP BY number
HAVING argMax(status, (status_since, imported_at)) = 'disconnected'
