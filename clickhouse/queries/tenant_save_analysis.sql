-- Saves (or replaces: the latest version of a name wins) a tenant's named analysis: calls whose
-- remote or tenant number starts with {prefix:String}, of the classes {classes:Array(String)}
-- (empty = every class). Parameters: tenant, name, prefix, classes, note.
INSERT INTO {database}.tenant_saved_analyses (tenant, name, number_prefix, call_classes, note)
SELECT {tenant:String}, {name:String}, {prefix:String}, {classes:Array(String)}, {note:String}
