-- Live view: per interconnect and direction over {minutes:UInt32} minutes of event time that ended
-- {settle:UInt32} minutes before the newest seizure minute stored (so replayed or simulated
-- traffic shows too). Minutes are seizure minutes and a CDR arrives when its call ends: the newest
-- minutes still lack their answered calls, which would make ASR look low.
WITH (SELECT max(minute) FROM {database}.interconnect_minute) - {settle:UInt32} * 60 AS newest
SELECT interconnect, direction, seizures, answered, round(asr, 3) AS asr, round(ner, 3) AS ner
FROM {database}.interconnect_quality(from = newest - {minutes:UInt32} * 60 + 60, to = newest + 60, bucket_s = 0)
ORDER BY interconnect, direction
