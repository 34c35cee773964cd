-- Changes whenever the set of disconnected numbers can have changed: an import (count, newest
-- import) or a future-dated status change taking effect (blocks in force by now).
SELECT count(), max(imported_at), countIf(status_since <= now64(3))
FROM {database}.number_blocks
