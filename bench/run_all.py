"""`make bench`: every CPU benchmark in turn, then the README tables from bench/results/.

Each benchmark runs its baselines and ours side by side in one process and
writes bench/results/<name>-cpu-<path>.json; this script only sequences them.

    python -m bench.run_all [--cpu-paths all|avx2,default] [--only nearest_code,vq_layer] [benchmark options]

``--cpu-paths``: run every benchmark once per CPU kernel path (each in the environment of
bench/cpu_paths.py, torch's kernels capped alike); "all" is every path this machine runs. Without
it, the machine's own best path.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from bench.cpu_paths import environment_for

BENCHMARKS = (
    "bench_nearest_code",
    "bench_ema",
    "bench_vq_layer",
    "bench_masked_conv",
    "bench_pixelcnn_sample",
    "bench_training",
    "bench_pipelines",
    "bench_photo_encode",
    "bench_studio",
)


def _paths(setting: str | None) -> list[str | None]:
    if setting is None:
        return [None]
    if setting == "all":
        from vaestudio.ops.cpu_capability import runnable_cpu_capabilities

        return list(runnable_cpu_capabilities()) or [None]
    return setting.split(",")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-paths", default=None)
    parser.add_argument("--only", default=None, help="comma-separated benchmark names, e.g. nearest_code,vq_layer")
    arguments, rest = parser.parse_known_args(argv)
    names = [f"bench_{name}" for name in arguments.only.split(",")] if arguments.only else list(BENCHMARKS)
    failures = []
    for path in _paths(arguments.cpu_paths):
        for name in names:
            print(f"== {f'[{path}] ' if path else ''}python -m bench.{name} {' '.join(rest)}", flush=True)
            environment = environment_for(path) if path else None
            if subprocess.call([sys.executable, "-m", f"bench.{name}", *rest], env=environment) != 0:
                failures.append(f"{name} ({path})" if path else name)
    subprocess.call([sys.executable, "-m", "bench.summarise", "--write"])  # docs/benchmarks.md
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
