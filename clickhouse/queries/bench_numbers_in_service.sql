-- `cdrflow numbers bench`: {n:UInt64} numbers from {first:UInt64} in service since 400 days before
-- {as_of:DateTime64(3, 'UTC')}, as blocks of 10,000, imported a day before as_of (as an
-- inventory is: a status row imported after the checkpoint would be recounted).
INSERT INTO {database}.number_blocks
    (first_number, last_number, status, tenant, channel, status_since, source_file, source_line, imported_at)
SELECT {first:UInt64} + number * 10000, {first:UInt64} + number * 10000 + 9999, 'in_service', 'bench', '',
       {as_of:DateTime64(3, 'UTC')} - toIntervalDay(400), 'bench', 0, {as_of:DateTime64(3, 'UTC')} - toIntervalDay(1)
FROM numbers(intDiv({n:UInt64} + 9999, 10000))
