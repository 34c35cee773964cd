-- Long-call alarms: calls overlapping [from, to] that were up at least long_s seconds by `to`
-- (or by their end). Parameters: from, to (DateTime64(3)), long_s.
SELECT source, call_id, start_ms, end_ms, open, ingress_trunk, egress_trunk, interconnect, called_e164
FROM {database}.call_spans(from = {from:DateTime64(3, 'UTC')}, to = {to:DateTime64(3, 'UTC')})
WHERE least(end_ms, toUnixTimestamp64Milli({to:DateTime64(3, 'UTC')})) - start_ms >= {long_s:UInt32} * 1000
