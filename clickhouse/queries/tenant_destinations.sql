-- The `top` costliest destinations of the calls the tenant placed to outside numbers.
-- For tenant over [from, to). Parameters: tenant, from, to, top.
SELECT *
FROM {database}.tenant_destinations(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')})
ORDER BY cost DESC, calls DESC
LIMIT {top:UInt32}
