-- The header row that makes a built checkpoint usable (number_quarantine_checkpoint_in_use):
-- written after its rows. Rows inserted from recount_since on may be missing from it.
INSERT INTO {database}.number_quarantine_checkpoints (day, window_days, taken_at, as_of, recount_since, numbers, build_s)
SELECT toDate({as_of:DateTime64(3, 'UTC')}), {window_days:UInt32}, {taken_at:DateTime64(3, 'UTC')},
       {as_of:DateTime64(3, 'UTC')}, {taken_at:DateTime64(3, 'UTC')} - toIntervalSecond({commit_lag_s:UInt32}),
       (SELECT count() FROM {database}.number_quarantine_checkpoint
        WHERE day = toDate({as_of:DateTime64(3, 'UTC')}) AND window_days = {window_days:UInt32}
          AND taken_at = {taken_at:DateTime64(3, 'UTC')}),
       {build_s:Float64}
