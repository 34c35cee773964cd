-- `cdrflow numbers bench`: the release-candidates question (release_candidates.sql) summarised in
-- ClickHouse — rows, calls, release verdicts — so its time is the query's, not shipping rows into
-- Python, and the checkpoint and the day table can be compared. Parameters as release_candidates.sql.
SELECT count(), sum(calls), countIf(verdict = 'release')
FROM {database}.number_quarantine_verdicts(as_of = {as_of:DateTime64(3, 'UTC')}, max_calls = {max_calls:UInt32},
                                           window_days = {window_days:UInt32}, min_days = {min_days:UInt32},
                                           use_checkpoint = {use_checkpoint:UInt8})
WHERE has({verdicts:Array(String)}, verdict)
