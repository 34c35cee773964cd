-- Disconnected numbers with their quarantine verdict (release / dirty / waiting); the rule lives
-- in the number_quarantine view (migrations/0003_numbers.sql), so CLI and tenants see the same.
SELECT number, tenant, quarantine_since, quarantine_days, calls, answered, last_call_day, verdict
FROM {database}.number_quarantine(as_of = {as_of:DateTime64(3, 'UTC')}, max_calls = {max_calls:UInt32},
                                  window_days = {window_days:UInt32}, min_days = {min_days:UInt32})
WHERE has({verdicts:Array(String)}, verdict)
ORDER BY verdict DESC, calls, number
