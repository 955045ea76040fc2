"""What Cascade's processes record for one another rather than about a run: that a worker is
alive, and the AI requests of the shared rate window."""

from __future__ import annotations

from django.db import models


class WorkerBeat(models.Model):
    """A live worker process says so every few seconds, so the CLI knows whether anything will
    process a run it queues."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20)  # "embedded" or "celery"
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} worker {self.name}"


class AiRequest(models.Model):
    """A request sent to an AI provider within the last rate window (CASCADE_AI_RATE_WINDOW), so
    that every process counts the same requests against CASCADE_AI_RPM and CASCADE_AI_TPM (with
    the embedded worker; Celery workers count in Redis). Older rows are deleted as it goes."""

    bucket = models.CharField(max_length=64)  # which provider and key the limit is for
    at = models.DateTimeField()
    tokens = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["bucket", "at"])]

    def __str__(self) -> str:
        return f"{self.tokens} tokens at {self.at:%H:%M:%S}"
