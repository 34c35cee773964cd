-- The calls matching the tenant's saved analysis `name` (a number prefix, optional call classes).
-- For tenant over [from, to). Parameters: tenant, from, to, name.
SELECT *
FROM {database}.tenant_notebook(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')},
    name = {name:String})
