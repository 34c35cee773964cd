-- One interconnect and direction over [from, to) as a single bucket: the exact stored figures.
SELECT seizures, answered, asr, ner, network_share, acd_s, pdd_avg_ms, pdd_p95_ms, causes, sip_codes
FROM {database}.interconnect_quality(from = {from:DateTime}, to = {to:DateTime}, bucket_s = 0)
WHERE interconnect = {interconnect:String} AND direction = {direction:String}
