"""Writing tasks, the articles they produce and the images of those articles."""

from __future__ import annotations

import secrets

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
    DRAFT = "draft", "Draft"  # written (or to be rewritten), pictures still to come
    REVIEW = "review", "Review"  # waits for a person
    APPROVED = "approved", "Approved"  # may be published or exported
    REJECTED = "rejected", "Rejected"  # with the reviewer's reason
    PUBLISHING = "publishing", "Publishing"  # queued for, or being sent to, WordPress
    PUBLISHED = "published", "Published"
    PUBLISH_FAILED = "publish_failed", "Publish failed"  # with the server's reason


# What a person may do to an article in each status (the API and pages offer only these).
APPROVABLE = frozenset({ContentStatus.REVIEW, ContentStatus.REJECTED})
REJECTABLE = frozenset({ContentStatus.REVIEW, ContentStatus.APPROVED})
REWRITABLE = frozenset({ContentStatus.REVIEW, ContentStatus.REJECTED, ContentStatus.APPROVED})
PUBLISHABLE = frozenset(
    {ContentStatus.APPROVED, ContentStatus.PUBLISHED, ContentStatus.PUBLISH_FAILED}
)
# Edits of these need the editor to say they mean it (the live post changes on republishing).
PUBLIC = frozenset({ContentStatus.PUBLISHED, ContentStatus.PUBLISHING})


class Content(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="content")
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="content")
    title = models.CharField(max_length=300)
    html = models.TextField()
    meta_title = models.CharField(max_length=60)
    meta_description = models.CharField(max_length=160)
    word_count = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=ContentStatus.choices, default=ContentStatus.DRAFT
    )
    is_offline_draft = models.BooleanField(default=False)
    provider = models.CharField(max_length=40, blank=True)
    run_id = models.UUIDField(null=True, blank=True)  # the run that wrote it (last)
    review_note = models.TextField(blank=True)  # the reason of a rejection, or the rewrite note
    # Fields a person changed by hand (title, meta_title, meta_description): a rewrite keeps
    # them unless its note asks to change them.
    edited_fields = models.JSONField(default=list, blank=True)
    # WordPress: the post this article is (an update never makes a second one), and the last
    # publishing attempt's state. A claim, like a run item's, lets one worker publish it.
    remote_post_id = models.BigIntegerField(null=True, blank=True)
    published_url = models.URLField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    publish_error = models.TextField(blank=True)
    publish_attempts = models.PositiveSmallIntegerField(default=0)
    publish_not_before = models.DateTimeField(null=True, blank=True)
    publish_claim = models.CharField(max_length=32, blank=True)
    publish_claim_expires_at = models.DateTimeField(null=True, blank=True)
    publish_batch = models.UUIDField(null=True, blank=True)  # a bulk publish, for its progress
    changed_since_published = models.BooleanField(default=False)
    # The articles its post linked to when it was last published (see writer.links).
    # (null: published before links were recorded; such posts are not updated for links alone)
    linked_ids = models.JSONField(null=True, blank=True, default=None)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["site", "status", "id"]),
            models.Index(fields=["status", "publish_not_before"]),
            models.Index(fields=["site", "publish_batch"]),
        ]
        verbose_name = "article"
        verbose_name_plural = "articles"

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


def image_token() -> str:
    return secrets.token_urlsafe(18)


class Image(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="images")
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="images")
    kind = models.CharField(max_length=12, choices=ImageKind.choices)
    position = models.PositiveSmallIntegerField(default=0)
    prompt = models.TextField()
    alt = models.CharField(max_length=200, blank=True)
    # The heading of the section an in-article picture was made for (it is placed after it).
    section = models.CharField(max_length=300, blank=True)
    # The picture's file name: unguessable, and the same on every retry of the same image.
    token = models.CharField(max_length=32, default=image_token, unique=True)
    remote_media_id = models.BigIntegerField(null=True, blank=True)  # in WordPress
    remote_post_id = models.BigIntegerField(null=True, blank=True)  # the post it is attached to
    remote_url = models.URLField(max_length=500, blank=True)
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


class PostStatus(models.TextChoices):
    DRAFT = "draft", "Draft (publish it in WordPress)"
    PUBLISH = "publish", "Published at once"


class WordPress(models.Model):
    """A site's WordPress: where approved articles are published (REST API, application
    password stored encrypted, never shown back)."""

    site = models.OneToOneField(Site, on_delete=models.CASCADE, related_name="wordpress")
    url = models.URLField(max_length=300)
    username = models.CharField(max_length=150)
    password_encrypted = models.TextField(blank=True)
    password_hint = models.CharField(max_length=12, blank=True)
    post_status = models.CharField(max_length=10, choices=PostStatus.choices, default="draft")
    category_from_cluster = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"WordPress of {self.site}: {self.url}"


class RemoteCategory(models.Model):
    """A WordPress category made (or found) for a cluster's name, so it is made once."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="remote_categories")
    name = models.CharField(max_length=200)
    remote_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "name"], name="one_category_per_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.remote_id})"
