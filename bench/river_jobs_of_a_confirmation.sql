\set b random(1, 1000000000)
BEGIN;
INSERT INTO river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, tags, unique_key, unique_states, metadata)
VALUES (jsonb_build_object('booking_id', md5(:b::text)::uuid::text, 'message', 'confirmation', 'version', 0), 'message', 20, 1, 'messages', 'available', now(), '{}', decode(md5(:b::text || 'c'), 'hex'), B'11110101', '{}') RETURNING id AS c \gset
INSERT INTO river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, tags, unique_key, unique_states, metadata)
VALUES (jsonb_build_object('booking_id', md5(:b::text)::uuid::text, 'message', 'reminder', 'version', 0), 'message', 20, 1, 'messages', 'scheduled', now() + interval '3 days', '{}', decode(md5(:b::text || 'r'), 'hex'), B'11110101', '{}');
INSERT INTO river_job (args, kind, max_attempts, priority, queue, state, scheduled_at, tags, unique_key, unique_states, metadata)
VALUES (jsonb_build_object('booking_id', md5(:b::text)::uuid::text, 'message', 'staff_new_booking', 'version', 0), 'message', 20, 1, 'messages', 'available', now(), '{}', decode(md5(:b::text || 's'), 'hex'), B'11110101', '{}') RETURNING id AS s \gset
COMMIT;
UPDATE river_job SET state = 'running', attempt = attempt + 1, attempted_at = now() WHERE id IN (:c, :s);
UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id IN (:c, :s);
