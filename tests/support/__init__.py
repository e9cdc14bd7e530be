"""What tests import: helpers and stand-ins, no fixtures (those are in the conftest.py files).

    webhooks       Openvolt envelopes, signed Nectar events, posting them to an endpoint
    jobs           procrastinate's jobs of a delivery
    database       what the test database holds; a database that cannot be reached
    admin          what an admin page offers its user
    follow_ups     follow-ups opened as a revocation opens them, and their history
    nectar         the recorded Nectar events, sent signed through the intake
    openvolt       the recorded Openvolt events, received and processed against the fake API
    fake_openvolt  a local HTTP server playing Openvolt's API
    subprocesses   Switchboard processes (workers, scripts) run against the test database
    workers        procrastinate's due jobs run here as a worker would; worker heartbeats
    smtp           a local SMTP server (aiosmtpd) and its inbox; a free port
    receivers      a local incoming-webhook receiver (Slack, Teams)
    waiting        polling for what another thread or process does

Rows the tests need are made with tests/factories.py.
"""
