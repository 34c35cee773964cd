-- Live view: per interconnect and direction over {minutes:UInt32} minutes of event time that ended
-- {settle:UInt32} minutes before the newest seizure minute stored (so replayed or simulated
-- traffic shows too). Minutes are seizure minutes and a CDR arrives when its call ends: the newest
-- minutes still lack their answered calls, which would make ASR look low. in_progress: calls up
-- at the window's end (calls_in_progress; of formats that write end records only, those ended since).
WITH (SELECT max(minute) FROM {database}.interconnect_minute) - {settle:UInt32} * 60 AS newest
SELECT q.interconnect AS interconnect, q.direction AS direction, seizures, answered, round(asr, 3) AS asr,
       round(ner, 3) AS ner, ifNull(p.calls, 0) AS in_progress
FROM {database}.interconnect_quality(from = newest - {minutes:UInt32} * 60 + 60, to = newest + 60, bucket_s = 0) AS q
LEFT JOIN (SELECT name, direction, calls FROM {database}.calls_in_progress(at = newest + 60)
           WHERE dimension = 'interconnect') AS p
    ON p.name = q.interconnect AND p.direction = toString(q.direction)
ORDER BY interconnect, direction
