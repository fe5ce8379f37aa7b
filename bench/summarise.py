"""Prints the README's benchmark tables (markdown) from bench/results/.

    python -m bench.summarise               # the machine's best CPU path (<name>-cpu-<path>.json)
    python -m bench.summarise --per-path    # one column per CPU path (docs/benchmarks-cpu.md)
"""

from __future__ import annotations

import argparse
import json
import os

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


PATHS = ("avx512", "avx2", "neon", "default")  # best first


def _read(name: str) -> dict | None:
    """bench/results/<name>; where it is missing and name is "<benchmark>-cpu.json", the best CPU path's
    <benchmark>-cpu-<path>.json."""
    candidates = [name]
    if name.endswith("-cpu.json"):
        stem = name[: -len(".json")]
        candidates += [f"{stem}-{path}.json" for path in PATHS]
    for candidate in candidates:
        path = os.path.join(RESULTS, candidate)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as stream:
                return json.load(stream)
    return None


def _read_paths(benchmark: str, suffix: str = "") -> dict[str, dict]:
    """{path: document} of every CPU path with results for ``benchmark`` (``suffix``: "-cpu-time" for the
    CPU-time runs), best path first."""
    found = {}
    for path in PATHS:
        if document := _read_exact(f"{benchmark}-cpu-{path}{suffix}.json"):
            found[path] = document
    return found


def _read_exact(name: str) -> dict | None:
    path = os.path.join(RESULTS, name)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def _milliseconds(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def nearest_code_table(document: dict) -> list[str]:
    rows = [("| N, D, K | ours | GFLOP/s (of sgemm) | ours, fp32 kernel | torch reference | cdist + argmin | faiss "
             "| our extra memory |"),
            "|---|---|---|---|---|---|---|---|"]
    by_shape: dict[tuple, dict[str, dict]] = {}
    for row in document["results"]:
        by_shape.setdefault((row["N"], row["D"], row["K"]), {})[row["method"]] = row
    for shape, methods in by_shape.items():
        ours = methods["ours"]

        def ratio(method: str, methods: dict[str, dict] = methods) -> str:
            return f"{methods[method]['ours_speedup']:.1f}x slower" if method in methods else "n/a"

        rows.append(
            f"| {shape[0]}, {shape[1]}, {shape[2]} | {_milliseconds(ours['best_s'])} | {ours['gflops']:.0f} "
            f"({ours['gflops'] / document['sgemm_gflops']:.0%}) | {ratio('ours, fp32 kernel')} "
            f"| {ratio('torch reference')} | {ratio('cdist+argmin')} "
            f"| {ratio('faiss IndexFlatL2')} | {ours['peak_extra_mb']:.1f} MB |"
        )
    rows.append(f"\nOurs: {document.get('ours_kernel', 'fp32')}. Same run's square sgemm: "
                f"{document['sgemm_gflops']:.0f} GFLOP/s.")
    return rows


def _markdown_table(header: list[str], cells: list[list[str]]) -> list[str]:
    """A markdown table: the header row, the separator, one row per list of cells."""
    return [f"| {' | '.join(header)} |", "|---" * len(header) + "|", *(f"| {' | '.join(row)} |" for row in cells)]


def ratio_table(document: dict, key_fields: tuple[str, ...], title: str) -> list[str]:
    cells = [[", ".join(str(row[field]) for field in key_fields), row["method"], _milliseconds(row["best_s"]),
              f"{row['ours_speedup']:.2f}x"] for row in document["results"]]
    return [f"**{title}**", "", *_markdown_table([", ".join(key_fields), "method", "best", "ours is faster by"], cells)]


def masked_conv_table(document: dict) -> list[str]:
    cells = [[f"{row['batch']}x{row['in_channels']}->{row['out_channels']}, {row['size']}x{row['size']}",
              f"{row['kernel'][0]}x{row['kernel'][1]} {row['mask_type']}", f"{row['kept_taps']}/{row['taps']}",
              f"{row['speedup_forward']:.2f}x", f"{row['speedup_forward_backward']:.2f}x"]
             for row in document["results"]]
    return _markdown_table(["input -> output", "kernel, mask", "kept taps", "forward", "forward + backward"], cells)


def pixelcnn_table(document: dict) -> list[str]:
    cells = [[f"{row['height']}x{row['width']}, {row['batch']}", _milliseconds(row["ours_s"]),
              _milliseconds(row["naive_s"]), f"{row['speedup']:.0f}x", row["naive_method"]]
             for row in document["results"]]
    return _markdown_table(["code map, batch", "ours", "naive loop", "speedup", "how the naive time was taken"], cells)


def _per_path_table(documents: dict[str, dict], key: callable, cell: callable, key_header: str) -> list[str]:
    """Rows by ``key(result row)`` of the "ours" rows, one column per path with ``cell(row, document)``."""
    keys: list = []
    cells: dict = {}
    for path, document in documents.items():
        for row in document["results"]:
            if row.get("method", "ours") != "ours":
                continue
            row_key = key(row)
            if row_key not in keys:
                keys.append(row_key)
            cells[(row_key, path)] = cell(row, document)
    return _markdown_table([key_header, *documents],
                           [[row_key, *(cells.get((row_key, path), "-") for path in documents)] for row_key in keys])


def _speedup_over(document: dict, row: dict, method: str) -> str:
    for other in document["results"]:
        same_case = all(other.get(field) == row.get(field) for field in ("N", "D", "K", "vectors", "batch", "size"))
        if other["method"] == method and same_case:
            return f"{other['best_s'] / row['best_s']:.1f}x"
    return "n/a"


def per_path_sections(suffix: str = "") -> list[list[str]]:
    sections = []
    if documents := _read_paths("nearest_code", suffix):
        def nearest(row: dict, document: dict) -> str:
            return (f"{row['gflops']:.0f} GFLOP/s ({row['gflops'] / document['sgemm_gflops']:.0%} of sgemm), "
                    f"{_speedup_over(document, row, 'torch reference')} ref, "
                    f"{_speedup_over(document, row, 'faiss IndexFlatL2')} faiss")
        sections.append(["### nearest_code per CPU path (ours: GFLOP/s, share of the same run's sgemm, "
                         "times faster than the torch reference and faiss)", "",
                         *_per_path_table(documents, lambda row: f"{row['N']}x{row['D']}x{row['K']}", nearest,
                                          "N x D x K"),
                         "", "sgemm per path: " + ", ".join(f"{path} {document['sgemm_gflops']:.0f} GFLOP/s"
                                                             for path, document in documents.items())])
    if documents := _read_paths("vq_layer", suffix):
        sections.append(["### VQ layer step per CPU path (ours, times faster than vector-quantize-pytorch)", "",
                         *_per_path_table(documents, lambda row: f"K = {row['K']}",
                                          lambda row, document: f"{_milliseconds(row['best_s'])}, "
                                          f"{_speedup_over(document, row, 'vector_quantize_pytorch')}", "codebook")])
    if documents := _read_paths("pixelcnn_sample", suffix):
        sections.append(["### pixelcnn_sample per CPU path (ours, times faster than the naive loop)", "",
                         *_per_path_table(documents, lambda row: f"{row['height']}x{row['width']}, batch {row['batch']}",
                                          lambda row, document: f"{_milliseconds(row['ours_s'])}, "
                                          f"{row['speedup']:.0f}x", "code map")])
    if documents := _read_paths("ema", suffix):
        sections.append(["### EMA path per CPU path (ours, times faster than index_add_; the floor is one copy of x)",
                         "", *_per_path_table(documents, lambda row: f"{row['N']}x{row['D']}, K = {row['K']}",
                                              lambda row, document: f"{_milliseconds(row['best_s'])}, "
                                              f"{_speedup_over(document, row, 'index_add_')}, "
                                              f"{row['times_clone']:.1f}x the copy", "case")])
    if documents := _read_paths("masked_conv", suffix):
        sections.append(["### masked_conv2d per CPU path (forward speedup over F.conv2d with a masked weight)", "",
                         *_per_path_table(documents, lambda row: f"{row['batch']}x{row['in_channels']}->"
                                          f"{row['out_channels']}, {row['size']}, {row['kernel'][0]}x{row['kernel'][1]} "
                                          f"{row['mask_type']}",
                                          lambda row, document: f"{row['speedup_forward']:.2f}x", "case")])
    if documents := _read_paths("pipelines", suffix):
        sections.append(["### text to image, 4 of 16 reranked (engine side, median) per CPU path", "",
                         *_markdown_table(list(documents), [[_milliseconds(document["results"]["text_to_image_4_of_16"]
                                                                           ["median_s"])
                                                             if isinstance(document.get("results"), dict) else "-"
                                                             for document in documents.values()]])])
    return sections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-path", action="store_true", help="one column per CPU path")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="cpu: the --clock cpu results")
    arguments = parser.parse_args()
    if arguments.per_path:
        suffix = "-cpu-time" if arguments.clock == "cpu" else ""
        print("\n\n".join("\n".join(section) for section in per_path_sections(suffix)))
        return
    sections = []
    if document := _read("nearest_code-cpu.json"):
        sections.append(["### nearest_code", "", *nearest_code_table(document)])
    if document := _read("ema-cpu.json"):
        sections.append(["### EMA path (code_stats + ema_update_)", "",
                         *ratio_table(document, ("N", "D", "K"), "time; the floor is one copy of x")])
    if document := _read("vq_layer-cpu.json"):
        sections.append(["### VQ layer training step", "",
                         *ratio_table(document, ("vectors", "D", "K"), "quantise, straight-through, losses, EMA, backward")])
    if document := _read("masked_conv-cpu.json"):
        sections.append(["### masked_conv2d vs F.conv2d with a masked weight (speedup)", "", *masked_conv_table(document)])
    if document := _read("pixelcnn_sample-cpu.json"):
        sections.append(["### pixelcnn_sample vs the naive loop", "", *pixelcnn_table(document)])
    print("\n\n".join("\n".join(section) for section in sections))


if __name__ == "__main__":
    main()
