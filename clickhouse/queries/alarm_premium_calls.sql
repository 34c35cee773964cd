-- Premium-surge alarms: calls started per minute of [from, to) to each watched prefix (E.164
-- digits without '+'). Parameters: from, to (DateTime64(3)), prefixes (Array(String)).
SELECT prefix, intDiv(start_ms, 60000) * 60000 AS minute_ms, count() AS calls
FROM {database}.call_spans(from = {from:DateTime64(3, 'UTC')}, to = {to:DateTime64(3, 'UTC')})
ARRAY JOIN arrayFilter(p -> startsWith(called_e164, concat('+', p)), {prefixes:Array(String)}) AS prefix
WHERE start_ms >= toUnixTimestamp64Milli({from:DateTime64(3, 'UTC')})
  AND start_ms < toUnixTimestamp64Milli({to:DateTime64(3, 'UTC')})
GROUP BY prefix, minute_ms
