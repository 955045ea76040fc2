"""What every AI provider offers the stages. A provider gets plain data and returns plain data;
it never touches the database, so the engine can call it outside any transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class ProviderError(Exception):
    """A transient failure (timeout, 5xx, malformed answer): the item is tried again."""


class ProviderRefused(ProviderError):
    """The provider refused this request (e.g. content policy): the item fails with the reason."""


class ProviderUnavailable(ProviderError):
    """The provider cannot serve anything (e.g. the key was refused): the run pauses."""


@dataclass(frozen=True)
class SiteProfile:
    """Who the writing is for; prompts inject it."""

    name: str = ""
    tone: str = ""
    audience: str = ""
    language: str = "English"


@dataclass(frozen=True)
class KeywordIn:
    id: int
    keyword: str
    intent: str = ""
    volume: int | None = None


@dataclass(frozen=True)
class ClusterRef:
    id: int
    name: str
    signature: str
    centroid: bytes = b""  # the sum of its members' vectors, when a provider embeds keywords


@dataclass
class ClusterAssignment:
    """Keywords that join an existing cluster (cluster_id set) or form a new one (name set)."""

    keyword_ids: list[int]
    cluster_id: int | None = None
    name: str = ""
    # The sum of the vectors that join the cluster with this assignment (its keywords', and
    # for a cluster that had no centroid yet, its earlier members'): added to its centroid.
    vectors: bytes = b""


@dataclass(frozen=True)
class ClusterIn:
    id: int
    name: str
    keywords: list[KeywordIn]


@dataclass
class IdeaOut:
    title: str
    outline: list[str]
    target_keywords: list[str]
    structure: str


@dataclass(frozen=True)
class Brief:
    title: str
    outline: list[str]
    target_keywords: list[str]
    structure: str
    target_words: int
    tone: str = ""
    audience: str = ""
    language: str = "English"
    note: str = ""  # a reviewer's note, when the article is written again


@dataclass
class ArticleOut:
    html: str
    meta_title: str
    meta_description: str
    word_count: int
    usage: dict = field(default_factory=dict)
    title: str = ""  # a title the writer proposes (used when a rewrite's note asks for one)


@dataclass(frozen=True)
class SectionIn:
    """A section of an article a picture is made for: its heading and the text under it."""

    heading: str
    text: str


@dataclass
class PromptOut:
    kind: str  # "featured" or "in_article"
    prompt: str
    alt: str = ""  # what the picture shows, in plain words (at most 125 characters)
    section: str = ""  # the heading of the section an in-article picture is made for


class Provider(Protocol):
    name: str
    label: str  # what the page shows, e.g. "Offline drafts"
    is_offline: bool

    def cluster_keywords(
        self, keywords: list[KeywordIn], existing: list[ClusterRef], method: str = ""
    ) -> list[ClusterAssignment]:
        """`method`: how the offline provider groups keywords ("meaning" or "words"), decided
        once a run when it starts; "" lets it decide by the size of the call."""
        ...

    def generate_ideas(
        self, cluster: ClusterIn, count: int, taken_titles: set[str]
    ) -> list[IdeaOut]: ...

    def write_article(self, brief: Brief) -> ArticleOut: ...

    def image_prompts(self, title: str, sections: list[SectionIn]) -> list[PromptOut]:
        """One featured prompt for the article, then one in-article prompt for each section
        given, in their order."""
        ...

    def render_image(self, prompt: str, width: int, height: int) -> bytes: ...
