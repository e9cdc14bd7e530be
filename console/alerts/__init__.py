"""Alerts that reach a person: rules that watch the system (rules.py), alerts opened and
resolved as the conditions come and go (services.py), and the messages that say so, by
e-mail and to a chat webhook (notify.py). The worker runs the rules every minute, and so does
`/health/ready` (web.py): a missing worker cannot report itself."""
