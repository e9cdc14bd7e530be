-- The readings of some demo meters: each meter's share of half-hours up to its last one,
-- shaped like a working day (busy 06:00-20:00, quieter at weekends) with some noise.
-- Read by demo.sql.statement_variants, which fills in the ON CONFLICT clause below.
INSERT INTO meters_intervalreading (meter_id, start, consumption_kwh, fetched_at)
SELECT m.pk, s.start,
    round((m.base_kw * 0.5
        * CASE WHEN extract(isodow FROM s.start) >= 6 THEN 0.55 ELSE 1 END
        * (0.35 + 0.65 * greatest(0, sin(pi()
            * (extract(hour FROM s.start) + extract(minute FROM s.start) / 60 - 6) / 14)))
        + random() * m.base_kw * 0.05)::numeric, 6),
    date_trunc('day', s.start) + interval '1 day 2 hours'
FROM demo_meter m
CROSS JOIN LATERAL generate_series(
    m.last_start - (m.readings - 1) * interval '30 minutes', m.last_start, interval '30 minutes'
) AS s(start)
WHERE m.n = ANY(%(meters)s)
{on_conflict}
