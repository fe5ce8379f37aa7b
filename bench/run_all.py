"""`make bench`: every CPU benchmark in turn, then the README tables from bench/results/.

Each benchmark runs its baselines and ours side by side in one process and
writes bench/results/<name>-cpu.json; this script only sequences them.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "bench_nearest_code",
    "bench_ema",
    "bench_vq_layer",
    "bench_masked_conv",
    "bench_pixelcnn_sample",
    "bench_training",
    "bench_pipelines",
    "bench_studio",
)


def main(argv: list[str]) -> int:
    failures = []
    for name in BENCHMARKS:
        print(f"== python -m bench.{name} {' '.join(argv)}", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}", *argv]) != 0:
            failures.append(name)
    subprocess.call([sys.executable, "-m", "bench.summarise", "--write"])  # docs/benchmarks.md
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
