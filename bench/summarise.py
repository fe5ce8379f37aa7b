"""Prints the README's benchmark tables (markdown) from bench/results/*-cpu.json."""

from __future__ import annotations

import json
import os

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _read(name: str) -> dict | None:
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


def main() -> None:
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
