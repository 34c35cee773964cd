-- `cdrflow numbers bench`: the generated history arrived before today's checkpoint, but its arrival
-- rows would mark every number as having late hits; forget them (the table's TTL drops arrivals
-- after 3 days anyway). No parameters.
TRUNCATE TABLE {database}.number_hits_arrivals
