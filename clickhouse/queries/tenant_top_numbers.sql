-- The `top` outside numbers the tenant talks with most (customers, suppliers, calls home).
-- For tenant over [from, to). Parameters: tenant, from, to, top.
SELECT *
FROM {database}.tenant_top_numbers(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')})
ORDER BY calls DESC, talk_s DESC, number
LIMIT {top:UInt32}
