"""Keywords, the clusters they form and the article ideas drawn from clusters."""

from __future__ import annotations

from django.db import models

from cascade.accounts.models import Site


def normalize(text: str) -> str:
    """The form used to judge duplicates: case- and whitespace-insensitive."""
    return " ".join(text.split()).casefold()


class KeywordStatus(models.TextChoices):
    NEW = "new"  # waiting for clustering
    MAPPED = "mapped"  # belongs to a cluster


class Intent(models.TextChoices):
    """Why people search for a keyword (optional, from the import)."""

    INFORMATIONAL = "informational", "Informational"  # they want to learn
    COMMERCIAL = "commercial", "Commercial"  # they compare before buying
    TRANSACTIONAL = "transactional", "Transactional"  # they want to buy or act
    NAVIGATIONAL = "navigational", "Navigational"  # they look for a place or brand


class QueueRow(models.Model):
    """A named row of a site that waits in a stage's queue: unique in its site (case- and
    whitespace-insensitively) and kept out of automation while disabled."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="%(class)ss")
    normalized = models.CharField(max_length=200)
    disabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["site", "normalized"], name="%(class)s_unique_in_site")
        ]
        indexes = [
            models.Index(fields=["site", "status", "disabled", "id"], name="%(class)s_queue")
        ]


class Keyword(QueueRow):
    keyword = models.CharField(max_length=200)
    volume = models.PositiveIntegerField(null=True, blank=True)
    difficulty = models.PositiveSmallIntegerField(null=True, blank=True)
    intent = models.CharField(max_length=20, choices=Intent.choices, blank=True)
    status = models.CharField(
        max_length=10, choices=KeywordStatus.choices, default=KeywordStatus.NEW
    )
    cluster = models.ForeignKey(
        "Cluster", null=True, blank=True, on_delete=models.SET_NULL, related_name="keywords"
    )

    def __str__(self) -> str:
        return self.keyword


class ClusterStatus(models.TextChoices):
    NEW = "new"  # waiting for ideas
    MAPPED = "mapped"  # ideas were drawn from it


class Cluster(QueueRow):
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=ClusterStatus.choices, default=ClusterStatus.NEW
    )
    keyword_count = models.PositiveIntegerField(default=0)
    # A short text that stands for the cluster when new keywords are matched against it
    # (its name and a few members), so matching never loads every keyword of the site.
    signature = models.TextField(blank=True)
    # The sum of its members' embedding vectors (float32), when keywords are clustered by
    # vector, and which embedding model made them (another model's vectors are not compared).
    centroid = models.BinaryField(null=True, blank=True)
    centroid_model = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return self.name


class IdeaStatus(models.TextChoices):
    NEW = "new"  # waiting for a writing task
    QUEUED = "queued"  # a task was created
    COMPLETED = "completed"  # the article is written


class Structure(models.TextChoices):
    """The shape an article takes, chosen from its keywords' wording."""

    GUIDE = "guide", "Guide"
    HOW_TO = "how-to", "How-to"
    LISTICLE = "listicle", "List"
    COMPARISON = "comparison", "Comparison"
    FAQ = "faq", "FAQ"


class ContentIdea(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="ideas")
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="ideas"
    )
    title = models.CharField(max_length=300)
    normalized_title = models.CharField(max_length=300)
    outline = models.JSONField(default=list)
    target_keywords = models.JSONField(default=list)
    structure = models.CharField(max_length=20, choices=Structure.choices, default=Structure.GUIDE)
    status = models.CharField(max_length=10, choices=IdeaStatus.choices, default=IdeaStatus.NEW)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "normalized_title"], name="idea_title_unique_in_site"
            )
        ]
        indexes = [models.Index(fields=["site", "status", "id"])]

    def __str__(self) -> str:
        return self.title
