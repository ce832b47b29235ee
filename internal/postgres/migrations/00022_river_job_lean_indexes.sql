-- +goose Up
-- River's GIN indexes on river_job.args and river_job.metadata serve
-- searches by job arguments (River's UI); the product never searches that
-- way but for one look-up — whether an endpoint has an earlier delivery of
-- the same booking still to make — which a small partial index serves. Each
-- job row is written three times (insert, fetch, completion), none of them
-- a HOT update (state is indexed), so every index of river_job is written
-- three times per job: on the payment write path a confirmation queues
-- three jobs. The GIN indexes were the dearest of those writes.
-- River's reindexer is told not to rebuild them (internal/jobs).
SET lock_timeout = '10s';
DROP INDEX IF EXISTS river_job_args_index;
DROP INDEX IF EXISTS river_job_metadata_index;
CREATE INDEX river_job_webhook_pending_idx ON river_job ((args ->> 'endpoint_id'), (args ->> 'booking_id'), id)
    WHERE kind = 'webhook_delivery' AND state IN ('available', 'scheduled', 'pending', 'running', 'retryable');

-- +goose Down
DROP INDEX IF EXISTS river_job_webhook_pending_idx;
CREATE INDEX IF NOT EXISTS river_job_args_index ON river_job USING gin (args);
CREATE INDEX IF NOT EXISTS river_job_metadata_index ON river_job USING gin (metadata);
