-- A whole inventory file in one insert (all its blocks or none): {rows:String} holds one JSON
-- object per block. One statement with the rows as a parameter, so it runs the same on a client
-- of our own or through the worker that owns an embedded chdb.
INSERT INTO {database}.number_blocks
    (first_number, last_number, status, tenant, channel, status_since, source_file, source_line)
SELECT *
FROM format(JSONEachRow,
            'first_number UInt64, last_number UInt64, status String, tenant String, channel String, status_since DateTime64(3, \'UTC\'), source_file String, source_line UInt32',
            {rows:String})
