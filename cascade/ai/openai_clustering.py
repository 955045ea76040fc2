"""Stage 1 for the OpenAI-compatible provider: by embeddings when CASCADE_EMBEDDING_MODEL is
set (keywords embedded through /v1/embeddings, matched to every cluster's centroid, grouped by
vector; the chat model only names new groups of several keywords), otherwise by the chat model,
which is shown the batch and the site's clusters. A provider without the embeddings endpoint
(404) falls back to the chat model, and `fallback_notice` says so for the run's activity."""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from django.conf import settings

from cascade.ai import clustering, usage, vectors
from cascade.ai.answers import ClustersOut, GroupNamesOut
from cascade.ai.base import (
    ClusterAssignment,
    ClusterRef,
    KeywordIn,
    ProviderError,
    SiteProfile,
)
from cascade.ai.text import clip

log = logging.getLogger("cascade.ai.openai")


class EmbeddingsMissing(Exception):
    """The provider serves no /v1/embeddings (404): stage 1 falls back to the chat model."""


class Clustering:
    """Stage 1 of OpenAIProvider (which brings the transport: `_call`, `_structured`,
    `_prompt`, `_who`, `client`)."""

    embedding_model: str
    fallback_notice: str
    _call: Any
    _structured: Any
    _prompt: Any
    _who: Any
    _openai: Any
    client: Any

    def cluster_keywords(
        self,
        keywords: list[KeywordIn],
        existing: list[ClusterRef],
        profile: SiteProfile | None = None,
        method: str = "",
    ) -> list[ClusterAssignment]:
        """By embeddings when CASCADE_EMBEDDING_MODEL is set and the provider serves them;
        otherwise by the chat model (`method`, the offline provider's, changes neither)."""
        if self.embedding_model and not self.fallback_notice:
            try:
                return self._cluster_by_vectors(keywords, existing, profile)
            except EmbeddingsMissing as exc:
                self.fallback_notice = (
                    f"The AI provider has no embeddings endpoint ({exc}): keywords are grouped "
                    "by the chat model instead."
                )
                log.warning("%s", self.fallback_notice)
        return self._cluster_by_chat(keywords, existing, profile)

    def _embed(self, texts: list[str]) -> np.ndarray:
        """One vector a text, in requests of CASCADE_EMBEDDING_BATCH texts; usage is recorded
        from the tokens the provider reports."""
        openai = self._openai
        rows: list[list[float]] = []
        step = max(1, settings.CASCADE_EMBEDDING_BATCH)
        for start in range(0, len(texts), step):
            chunk = texts[start : start + step]

            def send(chunk: list[str] = chunk) -> Any:
                try:
                    return self.client.embeddings.create(model=self.embedding_model, input=chunk)
                except openai.NotFoundError as exc:
                    raise EmbeddingsMissing(f"404 from {exc.request.url.path}") from None

            tokens = sum(len(t) for t in chunk) // 3 + len(chunk)  # about 3 characters a token
            response = self._call(send, estimated_tokens=tokens)
            if getattr(response, "usage", None):
                usage.record(response.usage.prompt_tokens or 0, 0)
            data = sorted(response.data, key=lambda d: d.index)
            if len(data) != len(chunk):
                raise ProviderError(
                    f"The AI provider answered {len(data)} embeddings for {len(chunk)} texts."
                )
            rows.extend(d.embedding for d in data)
        return np.array(rows, dtype=vectors.DTYPE)

    def _cluster_by_vectors(
        self,
        keywords: list[KeywordIn],
        existing: list[ClusterRef],
        profile: SiteProfile | None = None,
    ) -> list[ClusterAssignment]:
        texts = [k.keyword for k in keywords]
        embedded = self._embed(texts)
        width = embedded.shape[1]
        # Clusters made before (by the chat model, or before this model) get their centroid
        # from their signature's members, once: it is stored with what joins them.
        sums = [vectors.unpack(ref.centroid, width) for ref in existing]
        missing = [i for i, c in enumerate(sums) if c is None]
        seeded: dict[int, np.ndarray] = {}
        if missing:
            members = [
                clustering.signature_members(existing[i].signature) or [existing[i].name]
                for i in missing
            ]
            flat = self._embed([m for ms in members for m in ms])
            at = 0
            for i, ms in zip(missing, members, strict=True):
                seeded[i] = flat[at : at + len(ms)].sum(axis=0)
                at += len(ms)
        centroids = (
            np.array([seeded[i] if c is None else c for i, c in enumerate(sums)])
            if existing
            else None
        )
        found = vectors.group(embedded, centroids, settings.CASCADE_EMBEDDING_SIMILARITY)
        assignments = []
        for index, positions in found.joined.items():
            total = embedded[positions].sum(axis=0) + seeded.get(index, 0)
            assignments.append(
                ClusterAssignment(
                    keyword_ids=[keywords[p].id for p in positions],
                    cluster_id=existing[index].id,
                    vectors=vectors.pack(total),
                )
            )
        # Clusters whose centroid was worked out from their members and that nothing joined:
        # their centroid is stored all the same, so it is embedded once, not every batch.
        for index, seed in seeded.items():
            if index not in found.joined:
                assignments.append(
                    ClusterAssignment(
                        keyword_ids=[], cluster_id=existing[index].id, vectors=vectors.pack(seed)
                    )
                )
        names = self._name_groups(found.groups, texts, profile)
        for positions, name in zip(found.groups, names, strict=True):
            assignments.append(
                ClusterAssignment(
                    keyword_ids=[keywords[p].id for p in positions],
                    name=name,
                    vectors=vectors.pack(embedded[positions].sum(axis=0)),
                )
            )
        return assignments

    def _name_groups(
        self,
        groups: list[list[int]],
        texts: list[str],
        profile: SiteProfile | None,
    ) -> list[str]:
        """A name for each new group: a lone keyword is its own name; the chat model names
        groups of several (one request for the batch)."""
        names = [texts[g[0]] if len(g) == 1 else "" for g in groups]
        asked = [n for n, g in enumerate(groups) if len(g) > 1]
        if not asked:
            return names

        def check(answer: GroupNamesOut) -> None:
            given = sorted(n.group for n in answer.names)
            if given != list(range(1, len(asked) + 1)):
                raise ValueError(f"name every group 1 to {len(asked)} exactly once (got {given})")

        listing = [
            {"group": i, "keywords": [texts[p] for p in groups[n]][:20]}
            for i, n in enumerate(asked, 1)
        ]
        prompt = self._prompt("cluster_names", groups=json.dumps(listing), **self._who(profile))
        answer = self._structured(prompt, GroupNamesOut, "cluster_names", check)
        for named in answer.names:
            names[asked[named.group - 1]] = clip(named.name, 200)
        return names

    def _cluster_by_chat(
        self,
        keywords: list[KeywordIn],
        existing: list[ClusterRef],
        profile: SiteProfile | None = None,
    ) -> list[ClusterAssignment]:
        wanted = {k.id for k in keywords}
        known = {c.id for c in existing}

        def check(answer: ClustersOut) -> None:
            seen: list[int] = [kid for c in answer.clusters for kid in c.keyword_ids]
            repeated = sorted({k for k in seen if seen.count(k) > 1})
            missing = sorted(wanted - set(seen))
            unknown = sorted(set(seen) - wanted)
            wrong = sorted(
                {
                    c.existing_cluster_id
                    for c in answer.clusters
                    if c.existing_cluster_id is not None and c.existing_cluster_id not in known
                }
            )
            errors = []
            if missing:
                errors.append(f"keyword ids {missing} are not assigned")
            if repeated:
                errors.append(f"keyword ids {repeated} are assigned more than once")
            if unknown:
                errors.append(f"keyword ids {unknown} were not given")
            if wrong:
                errors.append(f"existing_cluster_id {wrong} do not exist")
            if errors:
                raise ValueError("; ".join(errors) + " (assign every keyword id exactly once)")

        listing = [{"id": c.id, "name": c.name} for c in existing[:300]]
        prompt = self._prompt(
            "cluster",
            existing=json.dumps(listing) if listing else "(none yet)",
            keywords=json.dumps([{"id": k.id, "keyword": k.keyword} for k in keywords]),
            **self._who(profile),
        )
        answer = self._structured(prompt, ClustersOut, "clusters", check)
        return [
            ClusterAssignment(
                keyword_ids=c.keyword_ids,
                cluster_id=c.existing_cluster_id,
                name="" if c.existing_cluster_id else c.name,
            )
            for c in answer.clusters
        ]
