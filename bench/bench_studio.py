"""End-to-end benchmark of the studio, through gradio_client against a server this script starts.

    python -m bench.bench_studio            # the real engine on pretrained/ -> bench/results/studio-cpu.json
    python -m bench.bench_studio --fake     # the FakeEngine (UI work) -> bench/results/studio-cpu-fake.json

Measures: cold start (process start to the first served request; the operator extension is
already built and cached), the round trip of one latent-slider change (median of many), text to
image of 4 images, and CONCURRENT clients hammering the server for DURATION seconds, where the only
failures allowed are clean "queue is full" refusals and the server must answer normally afterwards.
Exits non-zero when anything else fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
RESULTS = REPOSITORY / "bench" / "results"
SLIDERS, ATTRIBUTES = 16, 8  # studio.limits.MAX_SLIDERS, MAX_ATTRIBUTES: the /decode_sliders arity
REQUEST_TIMEOUT = 120.0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(fake: bool, port: int, log_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "studio", "--host", "127.0.0.1", "--port", str(port)]
    if fake:
        command.append("--fake")
    environment = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    log = open(log_path, "w")  # noqa: SIM115 - the server writes here until it is stopped
    return subprocess.Popen(command, cwd=REPOSITORY, env=environment, stdout=log, stderr=subprocess.STDOUT)


def wait_until_served(url: str, server: subprocess.Popen, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the studio exited with code {server.returncode} before serving; see its log")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"the studio did not answer on {url} within {seconds}s")


def call(client, *arguments, api_name: str):
    return client.submit(*arguments, api_name=api_name).result(timeout=REQUEST_TIMEOUT)


def models_for_each_tab(client) -> tuple[str, str]:
    """(a text-to-image model, an editable model), from the pickers the studio offers."""
    pickers = call(client, None, None, None, None, api_name="/refresh_models")
    text_to_image, edit = (picker["choices"][0][0] if picker["choices"] else None for picker in pickers[:2])
    if not text_to_image or not edit:
        raise RuntimeError("the studio offers no text-to-image or no editable model: is pretrained/ empty?")
    return text_to_image, edit


def test_image() -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 96), (240, 240, 230))
    ImageDraw.Draw(image).ellipse((20, 20, 76, 76), fill=(200, 40, 40))
    path = Path(tempfile.mkdtemp(prefix="bench-studio-")) / "circle.png"
    image.save(path)
    return str(path)


def encode(client, model: str, image: str) -> list[float]:
    from gradio_client import handle_file

    outputs = call(client, model, handle_file(image), api_name="/encode")
    return [slider.get("value", 0.0) if slider.get("visible") else 0.0 for slider in outputs[5 : 5 + SLIDERS]]


def moved(values: list[float], rng: random.Random) -> list[float]:
    return [value + rng.uniform(-0.5, 0.5) for value in values] + [0.0] * ATTRIBUTES


def slider_round_trips(client, values: list[float], count: int) -> list[float]:
    rng = random.Random(0)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        call(client, *moved(values, rng), api_name="/decode_sliders")
        timings.append(time.perf_counter() - started)
    return timings


def text_to_image_runs(client, model: str, runs: int) -> list[float]:
    timings = []
    for seed in range(runs):
        started = time.perf_counter()
        gallery, _ = call(client, model, "a red circle above a blue square", 4, seed, 1.0, 0, 16,
                          api_name="/text_to_image")
        timings.append(time.perf_counter() - started)
        assert len(gallery) == 4
    return timings


def load_test(url: str, models: tuple[str, str], image: str, clients: int, seconds: float) -> dict:
    """`clients` threads, each its own session: encode once, then slider moves with a text-to-image
    every fifth request, until the deadline."""
    from gradio_client import Client

    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    tally = {"ok": 0, "queue_full": 0, "errors": [], "latencies": []}

    def one_client(index: int) -> None:
        rng = random.Random(index)
        try:
            client = Client(url, verbose=False)
            values = encode(client, models[1], image)
        except Exception as error:  # noqa: BLE001 - every failure is tallied, none stops the others
            with lock:
                tally["errors"].append(f"client {index} setup: {type(error).__name__}: {error}")
            return
        request = 0
        while time.monotonic() < deadline:
            request += 1
            started = time.perf_counter()
            try:
                if request % 5 == 0:
                    call(client, models[0], "a green triangle", 4, request, 1.0, 0, 4, api_name="/text_to_image")
                else:
                    call(client, *moved(values, rng), api_name="/decode_sliders")
                outcome = "ok"
            except Exception as error:  # noqa: BLE001
                outcome = "queue_full" if "queue is full" in str(error).lower() else f"{type(error).__name__}: {error}"
            with lock:
                if outcome == "ok":
                    tally["ok"] += 1
                    tally["latencies"].append(time.perf_counter() - started)
                elif outcome == "queue_full":
                    tally["queue_full"] += 1
                    time.sleep(0.5)
                else:
                    tally["errors"].append(outcome)

    threads = [threading.Thread(target=one_client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 2 * REQUEST_TIMEOUT)
    latencies = sorted(tally["latencies"])
    return {
        "clients": clients,
        "seconds": seconds,
        "requests_ok": tally["ok"],
        "requests_per_second": round(tally["ok"] / seconds, 2),
        "queue_full_refusals": tally["queue_full"],
        "other_errors": tally["errors"][:20],
        "other_error_count": len(tally["errors"]),
        "latency_ms_median": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_ms_p95": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1) if latencies else None,
    }


def summary(timings: list[float]) -> dict:
    ordered = sorted(timings)
    return {
        "median_ms": round(1000 * statistics.median(ordered), 1),
        "p90_ms": round(1000 * ordered[int(0.9 * (len(ordered) - 1))], 1),
        "runs": len(ordered),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fake", action="store_true", help="serve the FakeEngine instead of the real one")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of concurrent load")
    parser.add_argument("--slider-moves", type=int, default=30)
    parser.add_argument("--text-to-image-runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=None)
    arguments = parser.parse_args(argv)
    from gradio_client import Client

    output = arguments.output or RESULTS / ("studio-cpu-fake.json" if arguments.fake else "studio-cpu.json")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = Path(tempfile.gettempdir()) / f"bench-studio-{port}.log"
    started = time.perf_counter()
    server = start_server(arguments.fake, port, log_path)
    try:
        wait_until_served(url, server)
        client = Client(url, verbose=False)
        backend = call(client, api_name="/backend")
        cold_start = time.perf_counter() - started
        models = models_for_each_tab(client)
        image = test_image()
        values = encode(client, models[1], image)
        sliders = slider_round_trips(client, values, arguments.slider_moves)
        text_to_image = text_to_image_runs(client, models[0], arguments.text_to_image_runs)
        load = load_test(url, models, image, arguments.clients, arguments.duration)
        healthy = server.poll() is None and bool(call(Client(url, verbose=False), api_name="/backend"))
    finally:
        server.terminate()
        server.wait(30)
    result = {
        "engine": "fake" if arguments.fake else "real",
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
        "backend": backend,
        "models": {"text_to_image": models[0], "edit": models[1]},
        "cold_start_to_first_request_s": round(cold_start, 2),
        "slider_round_trip": summary(sliders),
        "text_to_image_4_images": summary(text_to_image),
        "concurrent_load": load,
        "healthy_after_load": healthy,
        "server_log": str(log_path),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if healthy and load["other_error_count"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
