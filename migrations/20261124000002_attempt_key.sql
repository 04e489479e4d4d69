-- Attempts are identified by (run, node, execution, attempt), so the executor can write an
-- attempt's start and end in batches without waiting for a generated id.
DROP INDEX node_attempts_by_run;
CREATE UNIQUE INDEX node_attempts_key ON node_attempts (run_id, node_id, execution, attempt);
