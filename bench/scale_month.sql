-- Month view (GET /api/resources/{id}/availability?from=D&to=D+30) as the
-- minimal SQL for the same answer: the resource (with its date overrides),
-- then ONE read of the bookings holding time over the whole month
-- (internal/postgres busyRangesSQL: the blocked ranges of whole-resource
-- bookings and the places of shared slots, from bookings_busy_idx alone);
-- the server turns them into per-day counts
-- (booking.Booker.MonthAvailability). Data of internal/bulk: resource i has
-- the id md5('bulk-resource-' || i). Run by e2e/scalebench (scripts/scale-bench.sh)
-- with -D rfirst=0 -D rlast=49 -D dfirst=1 -D dlast=335 (any resource, a month of
-- the next year), or rfirst=rlast=50 and dfirst=dlast for the busy resource's month.
\set r random(:rfirst, :rlast)
\set d random(:dfirst, :dlast)
SELECT id::text, slug, name, description, price_amount, currency, duration_minutes, timezone, weekly_hours, active,
       slot_interval_minutes, buffer_before_minutes, buffer_after_minutes, min_notice_minutes, max_advance_days, capacity,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'from', o.from_date, 'to', o.to_date,
               'closed', o.closed, 'hours', o.hours, 'note', o.note) ORDER BY o.from_date), '[]'::jsonb)
        FROM resource_overrides o WHERE o.resource_id = resources.id)
FROM resources WHERE id = md5('bulk-resource-' || :r)::uuid;
SELECT starts_at,
       CASE WHEN shared THEN starts_at ELSE lower(coalesce(blocked, tstzrange(starts_at, ends_at, '[)'))) END,
       CASE WHEN shared THEN ends_at ELSE upper(coalesce(blocked, tstzrange(starts_at, ends_at, '[)'))) END,
       quantity, shared
FROM bookings
WHERE resource_id = md5('bulk-resource-' || :r)::uuid AND holds_slot
  AND starts_at > date_trunc('day', now()) + :d * interval '1 day' - interval '48 hours'
  AND starts_at < date_trunc('day', now()) + (:d + 31) * interval '1 day' + interval '24 hours'
  AND NOT (status = 'pending' AND hold_expires_at <= now())
  AND CASE WHEN shared THEN starts_at < date_trunc('day', now()) + (:d + 31) * interval '1 day' AND ends_at > date_trunc('day', now()) + :d * interval '1 day'
      ELSE coalesce(blocked, tstzrange(starts_at, ends_at, '[)')) && tstzrange(date_trunc('day', now()) + :d * interval '1 day', date_trunc('day', now()) + (:d + 31) * interval '1 day', '[)') END;
