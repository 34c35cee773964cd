-- Channel load per interval of `bucket_s` seconds: peak and average simultaneous calls, the Erlang B
-- blocking of that traffic on `channels` channels and the channels a grade of service `gos` needs.
-- For tenant over [from, to). Parameters: tenant, from, to, bucket_s, channels, gos.
SELECT *
FROM {database}.tenant_channel_load(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')},
    bucket_s = {bucket_s:UInt32},
    channels = {channels:UInt32},
    gos = {gos:Float64})
