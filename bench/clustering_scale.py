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
    from tests.keywords import clustered_in_batches

    words = diverse_keywords(count)
    started = time.perf_counter()
    labels, _ = clustered_in_batches(words, 100)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "keywords": count,
                "seconds": elapsed,
                "clusters": len(set(labels)),
                "peak_rss_mb": peak_mb,
            }
        )
    )


if __name__ == "__main__":
    main()
