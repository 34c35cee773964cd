-- Live view: per interconnect and direction over the last {minutes:UInt32} minutes of event time.
-- ASR = answered / seizures (ITU-T E.411); NER counts user-caused outcomes as effective.
SELECT
    interconnect,
    direction,
    count() AS seizures,
    countIf(cause_class = 'answered') AS answered,
    round(answered / seizures, 3) AS asr,
    round(countIf(cause_class IN ('answered', 'user')) / seizures, 3) AS ner
FROM {database}.cdr FINAL
WHERE start_time >= (SELECT max(start_time) FROM {database}.cdr) - toIntervalMinute({minutes:UInt32})
  AND interconnect != ''
GROUP BY interconnect, direction
ORDER BY interconnect, direction
