"""The console's background jobs: the alert rules every minute, and each alert's messages.

procrastinate's Django integration imports the `tasks` module of every installed app
(PROCRASTINATE_AUTODISCOVER_MODULE_NAME), so the worker knows these.
"""

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app


@app.periodic(cron="* * * * *", periodic_id="evaluate_alert_rules")
@app.task(
    name="console.evaluate_alert_rules",
    queue="alerts",
    queueing_lock="evaluate_alert_rules",
)
def evaluate_alert_rules(timestamp: int) -> dict | None:
    from console.alerts.services import alert_rules_run_if_due

    return alert_rules_run_if_due()


# Retried after 4 s, 16 s, 1 min … 18 h (a day in all): a chat or mail server down for hours
# still hears about the alert.
@app.task(
    name="console.send_alert_notice",
    queue="alerts",
    retry=RetryStrategy(max_attempts=8, exponential_wait=4),
)
def send_alert_notice(notice_id: int) -> bool:
    from console.alerts.notify import alert_notice_send

    return alert_notice_send(notice_id=notice_id)
