"""The shapes of the answers the OpenAI-compatible provider asks for (structured output), and
the strict JSON schema each is sent as."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


class ClusterOut(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    existing_cluster_id: int | None
    keyword_ids: list[int] = Field(min_length=1)


class ClustersOut(BaseModel):
    clusters: list[ClusterOut]


class GroupName(BaseModel):
    group: int
    name: str = Field(min_length=1, max_length=200)


class GroupNamesOut(BaseModel):
    names: list[GroupName]


class IdeaModel(BaseModel):
    title: str = Field(min_length=3, max_length=290)
    outline: list[str] = Field(min_length=5, max_length=8)
    target_keywords: list[str] = Field(min_length=1, max_length=5)
    structure: Literal["guide", "how-to", "listicle", "comparison", "faq"]


class IdeasOut(BaseModel):
    ideas: list[IdeaModel]


class ArticleModel(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    html: str = Field(min_length=50)
    meta_title: str = Field(min_length=1, max_length=60)
    meta_description: str = Field(min_length=1, max_length=160)


class PromptModel(BaseModel):
    kind: Literal["featured", "in_article"]
    section: str = Field(max_length=300)  # the section's heading; "" for the featured picture
    prompt: str = Field(min_length=3, max_length=2000)
    alt: str = Field(min_length=3, max_length=300)


class PromptsOut(BaseModel):
    prompts: list[PromptModel]

    @field_validator("prompts")
    @classmethod
    def _one_featured(cls, value: list[PromptModel]) -> list[PromptModel]:
        if sum(p.kind == "featured" for p in value) != 1:
            raise ValueError("exactly one prompt must be of kind 'featured'")
        return value


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """A strict JSON schema for `response_format` (every property required, no extras)."""

    def strict(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: strict(v) for k, v in node.items() if k not in ("title", "default")}
            if node.get("type") == "object" and "properties" in node:
                node["required"] = list(node["properties"])
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [strict(v) for v in node]
        return node

    return strict(model.model_json_schema())
