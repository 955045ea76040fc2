"""Writing tasks, the articles they produce and the images of those articles."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cascade.accounts.models import Site


class TaskStatus(models.TextChoices):
    QUEUED = "queued"  # waiting to be written
    IN_PROGRESS = "in_progress"  # kept for manual editing flows
    COMPLETED = "completed"  # the article exists
    FAILED = "failed"


class Task(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="tasks")
    idea = models.OneToOneField(
        "planner.ContentIdea", on_delete=models.CASCADE, related_name="task"
    )
    title = models.CharField(max_length=300)
    target_words = models.PositiveIntegerField(default=1200)
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["site", "status", "id"])]

    def __str__(self) -> str:
        return self.title


class ContentStatus(models.TextChoices):
    DRAFT = "draft"  # written, images still to come
    REVIEW = "review"  # waits for a person
    APPROVED = "approved"
    PUBLISHED = "published"


class Content(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="content")
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="content")
    title = models.CharField(max_length=300)
    html = models.TextField()
    meta_title = models.CharField(max_length=60)
    meta_description = models.CharField(max_length=160)
    word_count = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=ContentStatus.choices, default=ContentStatus.DRAFT
    )
    is_offline_draft = models.BooleanField(default=False)
    provider = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["site", "status", "id"])]
        verbose_name_plural = "content"

    def __str__(self) -> str:
        return self.title


class ImageKind(models.TextChoices):
    FEATURED = "featured"
    IN_ARTICLE = "in_article"


class ImageStatus(models.TextChoices):
    PENDING = "pending"  # prompt written, picture not yet generated
    GENERATED = "generated"
    FAILED = "failed"


IMAGE_SIZES = {ImageKind.FEATURED: (1200, 630), ImageKind.IN_ARTICLE: (800, 450)}


class Image(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="images")
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="images")
    kind = models.CharField(max_length=12, choices=ImageKind.choices)
    position = models.PositiveSmallIntegerField(default=0)
    prompt = models.TextField()
    status = models.CharField(
        max_length=10, choices=ImageStatus.choices, default=ImageStatus.PENDING
    )
    file = models.CharField(max_length=300, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["site", "status", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} image of {self.content_id}"

    @property
    def url(self) -> str | None:
        return f"{settings.MEDIA_URL}{self.file}" if self.file else None
