-- Calls the tenant placed to outside numbers by direction from its home, costliest first.
-- For tenant over [from, to). Parameters: tenant, from, to.
SELECT *
FROM {database}.tenant_directions(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')})
ORDER BY cost DESC, calls DESC
