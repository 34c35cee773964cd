-- Per number of the tenant that was called (a tracking number = an advertising channel).
-- For tenant over [from, to). Parameters: tenant, from, to.
SELECT *
FROM {database}.tenant_incoming_numbers(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')})
ORDER BY calls DESC, number
