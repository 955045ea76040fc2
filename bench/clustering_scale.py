"""Clustering N keywords the way stage 1 does (batches of 100 joining the clusters so far):
wall time and the process's peak memory."""

from __future__ import annotations

import json
import resource
import sys
import time

from common import diverse_keywords


def main() -> None:
    count = int(sys.argv[1])
    sys.path.insert(0, ".")
    from cascade.ai import clustering
    from cascade.ai.base import ClusterRef, KeywordIn

    words = diverse_keywords(count)
    members: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    started = time.perf_counter()
    for start in range(0, count, 100):
        batch = [KeywordIn(start + i, w) for i, w in enumerate(words[start : start + 100])]
        existing = [
            ClusterRef(cid, names[cid], clustering.make_signature(m)) for cid, m in members.items()
        ]
        for a in clustering.cluster_keywords(batch, existing):
            cid = a.cluster_id if a.cluster_id is not None else len(names) + 1
            names.setdefault(cid, a.name)
            members.setdefault(cid, []).extend(words[k] for k in a.keyword_ids)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"keywords": count, "seconds": elapsed, "clusters": len(names), "peak_rss_mb": peak_mb}
        )
    )


if __name__ == "__main__":
    main()
