-- Calls per interval of `bucket_s` seconds and class: the trend behind the summary.
-- For tenant over [from, to). Parameters: tenant, from, to, bucket_s.
SELECT *
FROM {database}.tenant_trend(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')},
    bucket_s = {bucket_s:UInt32})
