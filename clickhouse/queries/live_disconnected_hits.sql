-- Live view: calls in the last hour of event time (up to the newest seizure minute stored, so
-- simulated history shows too) to numbers the inventory lists as disconnected now: dirty numbers,
-- whose calls keep them from leaving quarantine.
WITH (SELECT max(minute) FROM {database}.interconnect_minute) + 60 AS newest
SELECT called_e164 AS number, count() AS calls, countIf(answer_time IS NOT NULL) AS answered,
       max(start_time) AS last_call
FROM {database}.cdr
WHERE start_time >= newest - 3600 AND start_time < newest
  AND called_e164 IN (
    SELECT concat('+', toString(number))
    FROM {database}.number_status
    WHERE status_since <= now64(3)
    GROUP BY number
    HAVING argMax(status, (status_since, imported_at)) = 'disconnected')
GROUP BY number
ORDER BY calls DESC, number
LIMIT {top:UInt32}
