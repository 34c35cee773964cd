-- Calls by class, answered, talk and waiting time, cost (view tenant_summary, migrations/0007).
-- For tenant over [from, to). Parameters: tenant, from, to.
SELECT *
FROM {database}.tenant_summary(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')})
