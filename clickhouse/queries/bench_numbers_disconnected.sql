-- `cdrflow numbers bench`: each of the {n:UInt64} numbers from {first:UInt64} disconnected on one of
-- the 200 days before {as_of:DateTime64(3, 'UTC')}: the whole capacity in quarantine, the worst
-- case for the release-candidates question. Imported a day before as_of.
INSERT INTO {database}.number_blocks
    (first_number, last_number, status, tenant, channel, status_since, source_file, source_line, imported_at)
SELECT {first:UInt64} + number, {first:UInt64} + number, 'disconnected', 'bench', '',
       {as_of:DateTime64(3, 'UTC')} - toIntervalHour(number % 4800), 'bench', 0, {as_of:DateTime64(3, 'UTC')} - toIntervalDay(1)
FROM numbers({n:UInt64})
