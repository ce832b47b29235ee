-- The message job a confirmation queues in its transaction (ADR 0008: one
-- job per change), shaped like the row River's insert writes for
-- jobs.MessageArgs (args, metadata, unique key by args). `webhookbench steps`
-- inserts this statement before the last COMMIT of the product's script.
INSERT INTO river_job (args, kind, max_attempts, metadata, priority, queue, scheduled_at, state, tags, unique_key, unique_states)
VALUES (jsonb_build_object('booking_id', md5(:prefix || :n)::uuid, 'kind', 'confirmation', 'version', 1,
            'also', jsonb_build_array(jsonb_build_object('kind', 'staff_alert', 'version', 1)),
            'reminder', jsonb_build_object('kind', 'reminder', 'version', 1), 'remind_at', now() + interval '3 days'),
        'change_messages', 10, jsonb_build_object('booking_id', md5(:prefix || :n)::uuid), 1, 'messages', now(), 'available', '{}',
        sha256(convert_to('change_messages' || :prefix || :n, 'UTF8')), B'11110101')
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND unique_states IS NOT NULL AND river_job_state_in_bitmask(unique_states, state)
DO NOTHING;
