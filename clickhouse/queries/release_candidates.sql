-- Disconnected numbers with their quarantine verdict (release / dirty / waiting); the rule lives
-- in the number_quarantine_verdicts view (migrations/0011_quarantine_checkpoint.sql), the same as
-- the number_quarantine view ops and tenants query. use_checkpoint = 1 reads today's checkpoint
-- when there is one for as_of's day and window (exact either way).
SELECT number, tenant, quarantine_since, quarantine_days, calls, answered, last_call_day, verdict
FROM {database}.number_quarantine_verdicts(as_of = {as_of:DateTime64(3, 'UTC')}, max_calls = {max_calls:UInt32},
                                           window_days = {window_days:UInt32}, min_days = {min_days:UInt32},
                                           use_checkpoint = {use_checkpoint:UInt8})
WHERE has({verdicts:Array(String)}, verdict)
ORDER BY verdict DESC, calls, number
