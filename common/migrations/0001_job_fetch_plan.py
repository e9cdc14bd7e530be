"""The worker's job fetch plans its query without sorting, whatever the planner's statistics.

procrastinate's fetch takes the first job due in (priority, id) order whose lock is free. With
statistics that say few jobs wait (a new database, or a long history of finished jobs, as in
a burst of deliveries that autovacuum has not re-analysed yet), PostgreSQL plans it as: check
the lock of every waiting job, then sort them all, and take the first. Each fetch then costs
time in proportion to the queue (2 s for 3,000 jobs waiting), and a backlog drains in time
proportional to its square. Without sorting, the plan walks the index of waiting jobs in
order and stops at the first free one. The setting holds inside the function only.
"""

from django.db import migrations

FETCH = "procrastinate_fetch_job_v2(character varying[], bigint)"


class Migration(migrations.Migration):
    dependencies = [("procrastinate", "0041_post_retry_failed_job")]

    operations = [
        migrations.RunSQL(
            f"ALTER FUNCTION {FETCH} SET enable_sort = off",
            f"ALTER FUNCTION {FETCH} RESET enable_sort",
        ),
    ]
