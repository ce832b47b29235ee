-- Availability of a day (GET /api/resources/{id}/availability?date=D) as
-- the minimal SQL for the same answer: the resource, then the ranges its
-- bookings hold that day, as internal/postgres busyRangesSQL reads them
-- (from bookings_busy_idx alone: whole-resource bookings by their blocked
-- range, shared places by start); the server turns
-- them into free slots. Data of internal/bulk: resource i has the id
-- md5('bulk-resource-' || i). Run by e2e/scalebench (scripts/scale-bench.sh).
\set r random(0, 49)
\set d random(1, 365)
SELECT id::text, slug, name, description, price_amount, currency, duration_minutes, timezone, weekly_hours, active
FROM resources WHERE id = md5('bulk-resource-' || :r)::uuid;
SELECT starts_at,
       CASE WHEN shared THEN starts_at ELSE lower(coalesce(blocked, tstzrange(starts_at, ends_at, '[)'))) END,
       CASE WHEN shared THEN ends_at ELSE upper(coalesce(blocked, tstzrange(starts_at, ends_at, '[)'))) END,
       quantity, shared
FROM bookings
WHERE resource_id = md5('bulk-resource-' || :r)::uuid AND holds_slot
  AND starts_at > date_trunc('day', now()) + :d * interval '1 day' - interval '48 hours'
  AND starts_at < date_trunc('day', now()) + (:d + 1) * interval '1 day' + interval '24 hours'
  AND NOT (status = 'pending' AND hold_expires_at <= now())
  AND CASE WHEN shared THEN starts_at < date_trunc('day', now()) + (:d + 1) * interval '1 day' AND ends_at > date_trunc('day', now()) + :d * interval '1 day'
      ELSE coalesce(blocked, tstzrange(starts_at, ends_at, '[)')) && tstzrange(date_trunc('day', now()) + :d * interval '1 day', date_trunc('day', now()) + (:d + 1) * interval '1 day', '[)') END;
