-- Call tracking per tracking number, channel label and day over [since, until]; '' = every tenant.
SELECT day, tenant, channel, tracking_number, calls, unique_callers, answered, first_time_callers
FROM {database}.call_tracking_daily
WHERE day BETWEEN {since:Date} AND {until:Date}
  AND ({tenant:String} = '' OR tenant = {tenant:String})
ORDER BY day, tenant, channel, tracking_number
