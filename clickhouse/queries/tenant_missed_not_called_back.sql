-- Missed calls nobody returned within `callback_hours` hours, one row each, oldest first.
-- For tenant over [from, to). Parameters: tenant, from, to, callback_hours.
SELECT *
FROM {database}.tenant_missed_not_called_back(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')},
    callback_hours = {callback_hours:UInt32})
ORDER BY missed_at
