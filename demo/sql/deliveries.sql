-- One batch of deliveries [first, last] of `total`, with their receipts and attempts.
-- Statuses and types are drawn at random (seeded); the times of settled deliveries follow
-- their number across the span, so that ids grow with received_at as they do in real life,
-- while pending and failed ones are recent, as they would be.
-- Read by demo.sql.statement_variants, which fills in the ON CONFLICT clause below.
WITH drawn AS (
    SELECT g, random() AS r_type, random() AS r_status, random() AS r_more, random() AS r_time
    FROM generate_series(%(first)s::int, %(last)s::int) AS g
), typed AS (
    SELECT d.*,
        CASE
            WHEN r_type < 0.72 THEN 'meter_data.received'
            WHEN r_type < 0.745 THEN 'meter.created'
            WHEN r_type < 0.76 THEN 'customer.created'
            WHEN r_type < 0.79 THEN 'hosted_consent.approved'
            WHEN r_type < 0.80 THEN 'hosted_consent.revoked'
            WHEN r_type < 0.805 THEN 'user.created'
            WHEN r_type < 0.815 THEN 'meter.updated'
            WHEN r_type < 0.89 THEN 'document.created.v2'
            WHEN r_type < 0.92 THEN 'document.updated.v2'
            WHEN r_type < 0.97 THEN 'connection.updated.v2'
            ELSE 'connection.validated.v2'
        END AS event_type,
        CASE
            WHEN r_status < 0.004 THEN 'rejected'
            WHEN r_type >= 0.805 AND r_type < 0.815 THEN 'ignored'
            WHEN r_status < 0.012 THEN 'dead'
            WHEN r_status < 0.014 THEN 'failed'
            WHEN r_status < 0.0145 THEN 'pending'
            WHEN r_status < 0.01455 THEN 'processing'
            ELSE 'processed'
        END AS status,
        CASE WHEN r_type < 0.815 THEN 'openvolt' ELSE 'nectar' END AS source,
        CASE WHEN r_more < 0.03 THEN 2 WHEN r_more < 0.036 THEN 4 ELSE 1 END AS receipts,
        1 + floor(r_more * 1000)::int %% 3 AS failures
    FROM drawn d
), timed AS (
    SELECT t.*,
        CASE status
            WHEN 'pending' THEN %(now)s - r_time * interval '5 minutes'
            WHEN 'processing' THEN %(now)s - r_time * interval '1 minute'
            WHEN 'failed' THEN %(now)s - r_time * interval '36 hours'
            ELSE %(now)s - make_interval(
                secs => (%(total)s - g + r_time) * %(span_seconds)s / %(total)s
            )
        END AS received_at
    FROM typed t
), shaped AS (
    SELECT t.*, m.*, b.external_id AS bill_id, b.invoice_id, b.company_id AS bill_company_id,
        b.company_name AS bill_company, b.path AS bill_path,
        c.external_id AS connection_id, c.company_id AS connection_company_id,
        c.company_name AS connection_company, c.status AS connection_status, c.accounts,
        c.path AS connection_path,
        CASE
            WHEN t.source = 'nectar' THEN %(nectar)s::uuid
            WHEN mod(t.g, 20) = 0 THEN %(staging)s::uuid
            ELSE %(production)s::uuid
        END AS endpoint_id,
        CASE WHEN t.source = 'nectar'
            THEN 'msg_' || substr(md5('switchboard-demo:delivery:' || t.g), 1, 27)
            ELSE md5('switchboard-demo:delivery:' || t.g)::uuid::text
        END AS delivery_key,
        to_char(t.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS stamp,
        to_char(date_trunc('day', t.received_at AT TIME ZONE 'UTC') - interval '1 day',
            'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS day_before,
        to_char(date_trunc('day', t.received_at AT TIME ZONE 'UTC'),
            'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS day_start,
        (ARRAY[
            'HTTPStatusError: Server error ''503 Service Unavailable'' from Openvolt',
            'ConnectTimeout: timed out',
            'OpenvoltError: Openvolt answered 429 Too Many Requests three times',
            'OperationalError: deadlock detected'
        ])[1 + mod(t.g, 4)] AS failure
    FROM timed t
    JOIN demo_meter m ON m.n = mod(t.g::bigint * 7919, (SELECT count(*) FROM demo_meter))
    LEFT JOIN demo_bill b ON b.n = mod(t.g, greatest(1, (SELECT count(*) FROM demo_bill)))
    LEFT JOIN demo_connection c
        ON c.n = mod(t.g, greatest(1, (SELECT count(*) FROM demo_connection)))
), bodies AS (
    SELECT s.*,
        CASE s.event_type
            WHEN 'meter_data.received' THEN jsonb_build_array(jsonb_build_object(
                'meter_id', s.external_id, 'start_interval', s.day_before,
                'end_interval', s.day_start))
            WHEN 'meter.created' THEN jsonb_build_object(
                '_id', s.external_id, 'meter_number', s.meter_number,
                'customer', jsonb_build_object('id', s.customer_id, 'name', s.customer_name,
                    'email', s.customer_email),
                'status', 'active', 'data_source', 'dcc', 'update_frequency', 'daily')
            WHEN 'meter.updated' THEN jsonb_build_object(
                '_id', s.external_id, 'meter_number', s.meter_number, 'status', 'active')
            WHEN 'customer.created' THEN jsonb_build_object(
                'id', s.customer_id, 'name', s.customer_name, 'email', s.customer_email,
                'account', %(subscription)s)
            WHEN 'hosted_consent.approved' THEN jsonb_build_array(jsonb_build_object(
                'hosted_consent_id', s.consent_id, 'customer_id', s.customer_id))
            WHEN 'hosted_consent.revoked' THEN jsonb_build_object(
                'id', s.consent_id,
                'customer', jsonb_build_object('id', s.customer_id, 'name', s.customer_name,
                    'email', s.customer_email),
                'meter_numbers', jsonb_build_array(s.meter_number),
                'flow_type', 'gb.commercial.blanket', 'valid', false, 'revoked_at', s.stamp)
            WHEN 'user.created' THEN jsonb_build_object(
                'id', md5('switchboard-demo:user:' || mod(s.g, 50)),
                'email', 'analyst' || mod(s.g, 50) || '@switchboard.example',
                'name', 'Analyst ' || mod(s.g, 50))
            ELSE NULL
        END AS inner_payload,
        CASE
            WHEN s.event_type LIKE 'document.%%' THEN jsonb_build_object(
                'eventType', s.event_type, 'id', s.bill_id, 'invoiceId', s.invoice_id,
                'company', jsonb_build_object('id', s.bill_company_id,
                    'name', s.bill_company, 'externalId', NULL),
                'chargesUnits', 'GBP', 'documentDate', left(s.day_start, 10),
                'meterSiteUsageData', jsonb_build_array(jsonb_build_object(
                    'meterId', s.meter_number, 'siteName', s.bill_company || ' site 1')),
                'updated', s.stamp)
            WHEN s.event_type LIKE 'connection.%%' THEN jsonb_build_object(
                'eventType', s.event_type, 'id', s.connection_id, 'status',
                s.connection_status, 'company', jsonb_build_object(
                    'id', s.connection_company_id, 'name', s.connection_company),
                'accounts', (SELECT jsonb_agg(jsonb_build_object('accountNumber', a))
                             FROM unnest(s.accounts) a),
                'updated', s.stamp)
        END AS nectar_event
    FROM shaped s
), rows AS (
    SELECT b.*,
        CASE
            WHEN b.source = 'nectar' AND b.status = 'rejected' THEN b.nectar_event - 'eventType'
            WHEN b.source = 'nectar' THEN b.nectar_event
            WHEN b.status = 'rejected' THEN jsonb_build_object(
                'subscription_id', %(subscription)s, 'event_id', b.event_type,
                'event_timestamp', b.stamp, 'delivery_id', b.delivery_key)
            ELSE jsonb_build_object(
                'subscription_id', %(subscription)s, 'event_id', b.event_type,
                'event_timestamp', b.stamp, 'delivery_id', b.delivery_key,
                'payload', b.inner_payload)
        END AS payload,
        CASE b.event_type
            WHEN 'meter_data.received' THEN ARRAY[b.external_id]
            WHEN 'meter.created' THEN ARRAY[b.external_id, b.meter_number, b.customer_id,
                lower(b.customer_email)]
            WHEN 'meter.updated' THEN ARRAY[b.external_id, b.meter_number]
            WHEN 'customer.created' THEN ARRAY[b.customer_id, lower(b.customer_email)]
            WHEN 'hosted_consent.approved' THEN ARRAY[b.consent_id, b.customer_id]
            WHEN 'hosted_consent.revoked' THEN ARRAY[b.consent_id, b.customer_id,
                lower(b.customer_email), b.meter_number]
            WHEN 'user.created' THEN ARRAY[md5('switchboard-demo:user:' || mod(b.g, 50)),
                'analyst' || mod(b.g, 50) || '@switchboard.example']
            ELSE ARRAY[]::text[]
        END
        || CASE WHEN b.event_type LIKE 'document.%%'
            THEN ARRAY[b.bill_id, b.invoice_id, b.bill_company_id, b.meter_number]
            WHEN b.event_type LIKE 'connection.%%'
            THEN ARRAY[b.connection_id, b.connection_company_id] || b.accounts
            ELSE ARRAY[]::text[] END
        -- What processing adds: the ids and numbers of the objects it changed.
        || CASE WHEN b.status = 'processed' AND b.event_type IN
                ('meter_data.received', 'hosted_consent.approved')
            THEN ARRAY[b.meter_number] ELSE ARRAY[]::text[] END AS subject_list,
        CASE b.status
            WHEN 'processed' THEN CASE
                WHEN b.event_type = 'meter_data.received' THEN 1 + mod(b.g, 33) / 32
                ELSE 1 END
            WHEN 'processing' THEN 1
            WHEN 'failed' THEN b.failures
            WHEN 'dead' THEN %(dead_attempts)s
            ELSE 0
        END AS attempts
    FROM bodies b
), inserted AS (
    INSERT INTO events_delivery (
        endpoint_id, source, external_id, event_type, status, received_at, last_received_at,
        receipt_count, occurred_at, payload, unparsed_body, subjects, error, error_traceback,
        summary, links, warnings, attempt_count, consecutive_failures, next_attempt_at,
        processed_at
    )
    SELECT
        r.endpoint_id, r.source, r.delivery_key,
        CASE WHEN r.status = 'rejected' AND r.source = 'nectar' THEN '' ELSE r.event_type END,
        r.status, r.received_at,
        r.received_at + (r.receipts - 1) * interval '127 seconds',
        r.receipts,
        CASE WHEN r.status <> 'rejected' THEN r.received_at - interval '2 seconds' END,
        r.payload, '', r.subject_list,
        CASE r.status
            WHEN 'rejected' THEN CASE r.source
                WHEN 'nectar' THEN 'The event has no eventType.'
                ELSE 'The envelope has no payload.' END
            WHEN 'failed' THEN r.failure
            WHEN 'dead' THEN r.failure
            ELSE '' END,
        CASE WHEN r.status IN ('failed', 'dead') THEN
            E'Traceback (most recent call last):\n'
            || E'  File "/app/events/processing.py", line 66, in delivery_process\n'
            || E'    outcome = handler(delivery) or Outcome()\n' || r.failure
            ELSE '' END,
        CASE WHEN r.status <> 'processed' THEN ''
            WHEN r.event_type = 'meter_data.received'
                THEN '48 half-hourly readings stored for 1 meter(s).'
            WHEN r.event_type = 'meter.created'
                THEN 'New meter ' || r.meter_number || ' for ' || r.customer_name || ': valid.'
            WHEN r.event_type = 'customer.created'
                THEN 'New customer ' || r.customer_name || ' (' || r.customer_email || ').'
            WHEN r.event_type = 'hosted_consent.approved'
                THEN 'Consent ' || r.consent_id || ' approved for ' || r.customer_name || '.'
            WHEN r.event_type = 'hosted_consent.revoked'
                THEN 'Consent ' || r.consent_id || ' revoked by ' || r.customer_name
                    || ': follow-up opened.'
            WHEN r.event_type = 'user.created'
                THEN 'New Openvolt user analyst' || mod(r.g, 50) || '@switchboard.example.'
            WHEN r.event_type LIKE 'document.%%'
                THEN 'Bill ' || r.invoice_id || ' (' || r.bill_company || ') mirrored.'
            ELSE 'Connection of ' || r.connection_company || ' mirrored: '
                || r.connection_status || '.'
        END,
        CASE WHEN r.status <> 'processed' THEN '[]'::jsonb
            WHEN r.event_type IN ('meter_data.received', 'meter.created')
                THEN jsonb_build_array(jsonb_build_array('Meter ' || r.meter_number, r.path))
            WHEN r.event_type = 'customer.created'
                THEN jsonb_build_array(
                    jsonb_build_array('Customer ' || r.customer_name, r.customer_path))
            WHEN r.event_type LIKE 'hosted_consent.%%'
                THEN jsonb_build_array(
                    jsonb_build_array('Hosted consent ' || r.consent_id, r.consent_path))
            WHEN r.event_type LIKE 'document.%%'
                THEN jsonb_build_array(jsonb_build_array('Bill ' || r.invoice_id, r.bill_path))
            WHEN r.event_type LIKE 'connection.%%'
                THEN jsonb_build_array(jsonb_build_array(
                    'Utility connection ' || r.connection_company, r.connection_path))
            ELSE '[]'::jsonb
        END,
        '[]'::jsonb,
        r.attempts,
        CASE WHEN r.status IN ('failed', 'dead') THEN r.attempts ELSE 0 END,
        CASE WHEN r.status = 'failed'
            THEN %(now)s + make_interval(secs => (%(delays)s::int[])[r.failures]) END,
        CASE WHEN r.status = 'processed'
            THEN r.received_at + (r.attempts - 1) * interval '1 minute' + interval '1.4 s' END
    FROM rows r
    {on_conflict}
    RETURNING id, source, status, received_at, receipt_count, attempt_count, error, external_id
), receipts AS (
    INSERT INTO events_deliveryreceipt (
        delivery_id, received_at, remote_addr, headers, verdict, response_status
    )
    SELECT i.id, i.received_at + (k - 1) * interval '127 seconds',
        CASE i.source WHEN 'nectar' THEN '44.228.126.217'::inet
            ELSE ('18.135.' || mod(i.id, 4) || '.' || (10 + mod(i.id, 7)))::inet END,
        CASE i.source
            WHEN 'nectar' THEN jsonb_build_object(
                'content-type', 'application/json', 'user-agent', 'Svix-Webhooks/1.24.0',
                'svix-id', i.external_id,
                'svix-timestamp', extract(epoch FROM i.received_at)::bigint::text,
                'svix-signature', '[redacted]')
            ELSE jsonb_build_object(
                'content-type', 'application/json', 'user-agent', 'axios/1.7.2')
        END,
        CASE WHEN i.status = 'rejected' THEN 'rejected'
            WHEN k = 1 THEN 'accepted' ELSE 'duplicate' END,
        CASE WHEN i.status = 'rejected' THEN 400 WHEN k = 1 THEN 202 ELSE 200 END
    FROM inserted i, generate_series(1, i.receipt_count) AS k
    RETURNING 1
), attempts AS (
    INSERT INTO events_deliveryattempt (delivery_id, started_at, finished_at, result, error)
    SELECT i.id,
        i.received_at + (k - 1) * interval '1 minute' + interval '1 s',
        CASE WHEN i.status = 'processing' THEN NULL
            ELSE i.received_at + (k - 1) * interval '1 minute' + interval '1.4 s' END,
        CASE
            WHEN i.status = 'processing' THEN 'running'
            WHEN i.status = 'processed' AND k = i.attempt_count THEN 'processed'
            ELSE 'failed' END,
        CASE WHEN i.status = 'processed' AND k = i.attempt_count THEN ''
            WHEN i.status = 'processing' THEN ''
            WHEN i.status = 'processed' THEN 'ConnectTimeout: timed out'
            ELSE i.error END
    FROM inserted i, generate_series(1, i.attempt_count) AS k
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM receipts),
    (SELECT count(*) FROM attempts)
