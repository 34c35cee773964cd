-- Detector baselines at {at:DateTime} per interconnect and direction, from the stored minutes:
--   history: the same hour (±30 min) of each of the previous {days:UInt8} days that has traffic;
--   recent:  up to 3 hours that ended 15 minutes before (the fallback where there is no history).
-- `minutes` is the length the sums cover, so seizures / minutes is the expected rate.
SELECT
    interconnect, direction, 'history' AS basis,
    sum(seizures) AS seizures, sum(answered) AS answered, sum(effective) AS effective,
    sum(network_failures) AS network, sum(pdd_ms_sum) AS pdd_sum, sum(pdd_calls) AS pdd_n,
    60 * uniqExact(intDiv(toUInt32({at:DateTime}) + 1800 - toUInt32(minute), 86400)) AS minutes
FROM {database}.interconnect_minute
WHERE minute >= {at:DateTime} - toIntervalDay({days:UInt8}) - INTERVAL 30 MINUTE
  AND minute < {at:DateTime} - INTERVAL 1 DAY + INTERVAL 30 MINUTE
  AND (toUInt32({at:DateTime}) + 1800 - toUInt32(minute)) % 86400 < 3600
GROUP BY interconnect, direction
UNION ALL
SELECT
    interconnect, direction, 'recent' AS basis,
    sum(seizures), sum(answered), sum(effective), sum(network_failures), sum(pdd_ms_sum), sum(pdd_calls),
    -- from the first minute with traffic: a key seen for 20 minutes has a 20-minute rate, not 180
    dateDiff('minute', greatest(min(minute), {at:DateTime} - INTERVAL 195 MINUTE), {at:DateTime} - INTERVAL 15 MINUTE)
FROM {database}.interconnect_minute
WHERE minute >= {at:DateTime} - INTERVAL 195 MINUTE AND minute < {at:DateTime} - INTERVAL 15 MINUTE
GROUP BY interconnect, direction
