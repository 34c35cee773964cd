-- Employees: calls made and received, missed, time on the phone, cost and load; most talk first.
-- For tenant over [from, to). Parameters: tenant, from, to.
SELECT *
FROM {database}.tenant_extensions(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')})
ORDER BY talk_s DESC, extension
