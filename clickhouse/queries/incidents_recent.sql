-- Open incidents and those that started in the last {hours:UInt32} hours, newest first.
SELECT toString(id) AS id, status, interconnect, direction, arrayStringConcat(kinds, ',') AS kinds, severity,
       start_time, end_time, round(lost_calls) AS lost_calls
FROM {database}.incidents FINAL
WHERE status = 'open' OR start_time >= now() - toIntervalHour({hours:UInt32})
ORDER BY status = 'open' DESC, start_time DESC
LIMIT 200
