"""Clustering N keywords the way stage 1 does (batches of 100 joining the clusters so far), by
meaning or by words (`clustering_scale.py N meaning|words`): wall time and the process's peak
memory."""

from __future__ import annotations

import json
import resource
import sys
import time

from common import diverse_keywords


def main() -> None:
    count, how = int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "words"
    sys.path.insert(0, ".")
    from cascade.ai.clustering import METHODS
    from tests.keywords import clustered_in_batches

    method = METHODS[how]
    words = diverse_keywords(count)
    started = time.perf_counter()
    labels, _ = clustered_in_batches(words, 100, method=method)
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "keywords": count,
                "method": how,
                "seconds": elapsed,
                "clusters": len(set(labels)),
                "peak_rss_mb": peak_mb,
            }
        )
    )


if __name__ == "__main__":
    main()
