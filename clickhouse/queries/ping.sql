-- Is ClickHouse answering? The worker's readiness check. No parameters.
SELECT 1
