-- `cdrflow tenants bench`: how many calls tenant {tenant:String} has in tenant_calls.
SELECT count()
FROM {database}.tenant_calls
WHERE tenant = {tenant:String}
