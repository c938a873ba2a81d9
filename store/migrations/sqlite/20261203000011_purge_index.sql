-- The periodic purge deletes the hourly counters of past windows; this keeps it from scanning the table.
CREATE INDEX IF NOT EXISTS idx_function_rate_limits_window ON function_rate_limits (window_start);
