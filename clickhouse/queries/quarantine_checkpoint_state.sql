-- Before a checkpoint build: the server's clock (the build's taken_at, read before the build reads
-- anything) and the size of the day's checkpoint for the window if one was built (else NULL).
SELECT toString(now64(3, 'UTC')) AS server_now,
       (SELECT if(count() = 0, NULL, max(numbers)) FROM {database}.number_quarantine_checkpoints
        WHERE day = toDate({as_of:DateTime64(3, 'UTC')}) AND window_days = {window_days:UInt32}) AS numbers
