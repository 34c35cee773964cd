-- Calls by marketing type (unique, target, unique_target, callback, spam) under the tenant's rules
-- (definitions in migrations/0007 and 0010, view tenant_call_types).
-- For tenant over [from, to). Parameters: tenant, from, to, unique_days, target_min_s,
-- sales_cycle_days, spam_calls_per_day, spam_max_talk_s, callback_numbers.
SELECT *
FROM {database}.tenant_call_types(
    tenant = {tenant:String},
    from = {from:DateTime64(3, 'UTC')},
    to = {to:DateTime64(3, 'UTC')},
    unique_days = {unique_days:UInt32},
    target_min_s = {target_min_s:UInt32},
    sales_cycle_days = {sales_cycle_days:UInt32},
    spam_calls_per_day = {spam_calls_per_day:UInt32},
    spam_max_talk_s = {spam_max_talk_s:UInt32},
    callback_numbers = {callback_numbers:Array(String)})
