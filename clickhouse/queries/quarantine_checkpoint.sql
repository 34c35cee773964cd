-- The daily checkpoint: number_quarantine_counts through the day before as_of's day, for the
-- numbers in quarantine as of as_of. Its header row (number_quarantine_checkpoints) goes in after.
INSERT INTO {database}.number_quarantine_checkpoint
SELECT toDate({as_of:DateTime64(3, 'UTC')}), {window_days:UInt32}, {taken_at:DateTime64(3, 'UTC')},
       number, tenant, quarantine_since, calls, answered, last_call_day
FROM {database}.number_quarantine_counts(as_of = {as_of:DateTime64(3, 'UTC')}, window_days = {window_days:UInt32},
                                         through_days_ago = 1, use_checkpoint = 0)
