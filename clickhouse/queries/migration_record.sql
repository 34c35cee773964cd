-- Records that numbered migration {version:UInt32} ({name:String}) ran to its end, with the
-- {checksum:String} of its file.
INSERT INTO {database}.schema_migrations (version, name, checksum)
SELECT {version:UInt32}, {name:String}, {checksum:String}
