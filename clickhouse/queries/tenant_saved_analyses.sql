-- A tenant's saved analyses, each at its latest version, by name. Parameters: tenant.
SELECT name,
       argMax(number_prefix, saved_at) AS prefix,
       argMax(call_classes, saved_at) AS classes,
       argMax(note, saved_at) AS note,
       max(saved_at) AS saved_at
FROM {database}.tenant_saved_analyses
WHERE tenant = {tenant:String}
GROUP BY name
ORDER BY name
