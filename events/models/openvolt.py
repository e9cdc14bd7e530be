"""The budget of calls to Openvolt's API that every worker process and machine shares."""

from django.db import models


class OpenvoltBudget(models.Model):
    """One row: when the next call to Openvolt may start, and whether calls are paused.

    Each call reserves its start time by moving `next_call_at` on by 1 / OPENVOLT_API_MAX_RPS
    seconds in one UPDATE, so every worker together stays within the rate; a 429 moves
    `paused_until` on, which every worker's next reservation waits for.
    """

    next_call_at = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    # When Openvolt last refused the API key (401/403), cleared by the next accepted call.
    key_refused_at = models.DateTimeField(null=True, blank=True)
    key_refused_status = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "Openvolt API budget"

    def __str__(self):
        return "Openvolt API budget"
