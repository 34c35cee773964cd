-- Live view: per interconnect and direction over the last {minutes:UInt32} minutes of event time
-- (up to the newest seizure minute stored, so replayed or simulated traffic shows too).
WITH (SELECT max(minute) FROM {database}.interconnect_minute) AS newest
SELECT interconnect, direction, seizures, answered, round(asr, 3) AS asr, round(ner, 3) AS ner
FROM {database}.interconnect_quality(from = newest - {minutes:UInt32} * 60 + 60, to = newest + 60, bucket_s = 0)
ORDER BY interconnect, direction
