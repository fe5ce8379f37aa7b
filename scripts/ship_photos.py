"""Ships pretrained/photos: the general image VQ-VAE and its unconditional prior as a ``photo_editing`` bundle,
measured on the held-out photos at 256 x 256 beside the shapes VQ-VAE, with a card that lists every picture's
licence (from the packages' copyright files, via the photos manifest).

    python scripts/ship_photos.py --vqvae runs/photos-vqvae --prior runs/photos-prior [--bench JSON]

A component may be a checkpoint of a run that did not finish (``runs/NAME/checkpoints/step-N``): its weights
ship with the run's recipe.toml and a short card saying at which step of how many it stopped.

Needs the photos (`vaestudio data get photos`) for the evaluation and the licence list. Refuses to ship more
than SIZE_ALLOWANCE bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ship_zoo import REPOSITORY, card_line, copy_model, read_json, read_text  # noqa: E402

from vaestudio.data.photo_packages import PHOTO_PACKAGES, read_manifest  # noqa: E402
from vaestudio.data.photos import PhotosSource  # noqa: E402
from vaestudio.evaluation.photos import photo_psnr, prior_bits_per_code  # noqa: E402
from vaestudio.hub import load  # noqa: E402

NAME = "photos"
SIZE_ALLOWANCE = 2_200_000  # bytes, the whole folder
EVALUATION_SIZE = 256


def evaluate(target: str) -> dict:
    bundle = load(target)
    vqvae, prior = bundle["vqvae"], bundle["prior"]
    test = PhotosSource("test", image_size=EVALUATION_SIZE)
    ours = photo_psnr(vqvae, test)
    shapes = photo_psnr(load("shapes")["vqvae"], test)
    bits = prior_bits_per_code(vqvae, prior, test)
    return {
        "evaluation": {"psnr_256": ours["psnr_mean"], "psnr_256_median": ours["psnr_median"],
                       "psnr_256_of_mean_mse": ours["psnr_of_mean_mse"],
                       "shapes_vqvae_psnr_256": shapes["psnr_mean"],
                       "shapes_vqvae_psnr_256_of_mean_mse": shapes["psnr_of_mean_mse"], "prior_bits_per_code_256": bits["bits_per_code"],
                       "log2_num_codes": bits["log2_num_codes"], "test_pictures": ours["images"]},
        "per_picture_psnr_256": {key: {"photos": value, "shapes_vqvae": shapes["per_picture"][key]}
                                 for key, value in ours["per_picture"].items()},
        "prior_codes_256": bits["codes"],
    }


def folder_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)


def licence_rows() -> list[str]:
    rows = ["| picture | package | split | licence | copyright |", "|---|---|---|---|---|"]
    for picture in read_manifest():
        stated = "" if picture.licence_per_file else " (package-wide)"
        holders = (picture.copyright.replace("|", "/") if picture.licence_per_file
                   else f"/usr/share/doc/{picture.package}/copyright")
        rows.append(f"| {picture.key.split('/', 1)[1]} | {picture.package} | {picture.split} | "
                    f"{picture.licence}{stated} | {holders} |")
    return rows


def ship_component(source: str, target: str) -> None:
    """Copies a finished run, or a checkpoint of an unfinished one with its run's recipe and a short card."""
    copy_model(source, target)
    state = read_json(os.path.join(source, "trainer_state.json"))
    if not state:
        return
    run = os.path.dirname(os.path.dirname(os.path.abspath(source)))
    shutil.copyfile(os.path.join(run, "recipe.toml"), os.path.join(target, "recipe.toml"))
    os.chmod(os.path.join(target, "recipe.toml"), 0o644)
    with open(os.path.join(target, "README.md"), "w", encoding="utf-8") as stream:
        stream.write("\n".join([
            f"# {os.path.basename(run)} (checkpoint at step {state['step']} of {state['total_steps']})", "",
            f"The weights of `{os.path.relpath(os.path.abspath(source), REPOSITORY)}`: the run was stopped there "
            "for the session's time (its cosine schedule was not finished).", "",
            "## Training", "",
            f"- command: `vaestudio train recipes/{os.path.basename(run)}.toml --out "
            f"{os.path.relpath(run, REPOSITORY)} --quiet`",
            f"- steps: {state['step']} of {state['total_steps']}",
            f"- training time: {state['seconds'] / 60:.1f} min",
            "- machine: cpu AMD EPYC, cpu_cores 2, torch_threads 1, torch 2.13.0+cpu, shared with other jobs",
            "", "Loss every 25 steps (nats per code): " + ", ".join(f"{step}: {loss:.2f}" for step, loss in
                                                               state["history"]), ""]))


def step_summary(runs: dict[str, str]) -> str:
    """"vqvae: 2600 steps of 8 in 30.4 min (0.70 s a step); prior: ..." from the runs' recipes and metrics."""
    parts = []
    for role, run in runs.items():
        training = read_json(os.path.join(run, "metrics.json")).get("training", {}) or read_json(
            os.path.join(run, "trainer_state.json"))
        steps, seconds = training.get("step", training.get("steps", 0)), training.get("seconds", 0.0)
        batch = read_json(os.path.join(run, "trainer_state.json")).get("recipe", {}).get("training", {}).get(
            "batch_size") or read_text(os.path.join(run, "README.md")).split("batch size ")[-1].split(",")[0]
        parts.append(f"the {role}, {steps} steps of {batch} in {seconds / 60:.1f} min "
                     f"({seconds / max(steps, 1):.2f} s a step on average)")
    return "; ".join(parts)


def card(target: str, runs: dict[str, str], measured: dict, bench: dict) -> str:
    evaluation = measured["evaluation"]
    vqvae_card, prior_card = (read_text(os.path.join(target, role, "README.md")) for role in ("vqvae", "prior"))
    pictures = read_manifest()
    test = sum(picture.split == "test" for picture in pictures)
    lines = [
        f"# {NAME}", "",
        "A general image VQ-VAE for photos and drawings, and an unconditional PixelCNN prior over its codes (a "
        "`photo_editing` bundle: `vaestudio.load(\"photos\")`). Fully convolutional: an upload of any size is "
        "encoded at its own resolution (up to 1920x1088 in the studio; padded to a multiple of 4 and cropped back) "
        "to a map of 512 codes at a quarter of its size. In the studio's Edit tab it encodes every upload that is "
        "not from the picked model's world, shows its code map, and inpaints a painted region by resampling its "
        "codes with the prior (every unpainted code is kept).", "",
        "Papers: VQ-VAE-2 (Razavi et al. 2019, https://arxiv.org/abs/1906.00446), VQ-VAE (van den Oord et al. 2017, "
        "https://arxiv.org/abs/1711.00937), gated PixelCNN (van den Oord et al. 2016, "
        "https://arxiv.org/abs/1606.05328).",
        "", "## Metrics", "",
        f"On the {evaluation['test_pictures']} held-out pictures (never seen in training), each whole picture resized "
        f"to {EVALUATION_SIZE} on its short side and centre-cropped to {EVALUATION_SIZE}x{EVALUATION_SIZE}:", "",
        "| metric | value |", "|---|---|",
        f"| PSNR, mean over pictures (this VQ-VAE) | {evaluation['psnr_256']:.2f} dB |",
        f"| PSNR, median over pictures | {evaluation['psnr_256_median']:.2f} dB |",
        f"| PSNR of the mean squared error over all pictures | {evaluation['psnr_256_of_mean_mse']:.2f} dB |",
        f"| the shapes VQ-VAE on the same pictures: mean PSNR | {evaluation['shapes_vqvae_psnr_256']:.2f} dB |",
        f"| the shapes VQ-VAE: PSNR of the mean squared error | "
        f"{evaluation['shapes_vqvae_psnr_256_of_mean_mse']:.2f} dB |",
        f"| prior, bits per code (64x64 code maps) | {evaluation['prior_bits_per_code_256']:.2f} |",
        f"| a uniform guess, log2 K | {evaluation['log2_num_codes']:.2f} |", "",
        "| held-out picture | this VQ-VAE | shapes VQ-VAE |", "|---|---|---|",
    ]
    for key, values in measured["per_picture_psnr_256"].items():
        lines.append(f"| {key} | {values['photos']:.2f} dB | {values['shapes_vqvae']:.2f} dB |")
    if bench:
        lines += ["", "Encoding a 1024x1024 upload (`python -m bench.bench_photo_encode`, goal under 300 ms on "
                  "2 cores):", ""]
        for row in bench["results"]:
            lines.append(f"- {row['method']}: {row['median_s'] * 1e3:.0f} ms median")
        machine = bench.get("machine", {})
        lines.append(f"- ({bench.get('threads')} torch threads, clock: {machine.get('clock')}, CPU "
                     f"{machine.get('cpu')}, kernel path {machine.get('cpu_kernel_path')})")
    lines += [
        "", "## Training", "",
        "| component | command | training time | machine |", "|---|---|---|---|",
        f"| vqvae | {card_line(vqvae_card, 'command')} | {card_line(vqvae_card, 'training time')} | "
        f"{card_line(vqvae_card, 'machine')} |",
        f"| prior | {card_line(prior_card, 'command')} | {card_line(prior_card, 'training time')} | "
        f"{card_line(prior_card, 'machine')} |", "",
        "Machine: AMD EPYC, AVX2, 2 cores shared with other jobs (up to 14 training runs at once), torch 2.13.0 CPU, "
        "one thread per run. The step counts were chosen from the step time measured at the start (about 1.4 s a "
        "step for the VQ-VAE on the crowded machine) so that both runs end within the working session: "
        f"{step_summary(runs)}. Both would improve with longer runs.", "",
        f"Components: [vqvae/README.md](vqvae/README.md) ({runs['vqvae']}), [prior/README.md](prior/README.md) "
        f"({runs['prior']}). Shipped with `python scripts/ship_photos.py --vqvae {runs['vqvae']} --prior "
        f"{runs['prior']}`.", "",
        "## Data and licences", "",
        f"`vaestudio data get photos`: `apt-get download` and `dpkg -x` of the Debian packages "
        f"{', '.join(f'`{name}`' for name in PHOTO_PACKAGES)}; one file per picture (the largest of its sizes), its "
        f"licence from the package's copyright file (`vaestudio/data/copyright_files.py`); pictures whose licence the "
        f"file does not state are left out. {len(pictures)} pictures: {len(pictures) - test} train, {test} test "
        "(a fixed split by picture). Training reads random square crops at random scales "
        "(`vaestudio/data/photos.py`). The licences below are the pictures'; the weights are derived from them. "
        "\"package-wide\": the copyright file states it for the whole package (e.g. `Files: *`).", "",
        *licence_rows(), "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vqvae", default="runs/photos-vqvae")
    parser.add_argument("--prior", default="runs/photos-prior")
    parser.add_argument("--bench", default=None, help="a bench/results/photo_encode-*.json to quote in the card")
    arguments = parser.parse_args(argv)
    target = os.path.join(REPOSITORY, "pretrained", NAME)
    runs = {"vqvae": arguments.vqvae, "prior": arguments.prior}
    for role, run in runs.items():
        ship_component(run, os.path.join(target, role))
    with open(os.path.join(target, "bundle.json"), "w", encoding="utf-8") as stream:
        json.dump({"kind": "photo_editing", "components": {"vqvae": "vqvae", "prior": "prior"}, "options": {}},
                  stream, indent=2)
        stream.write("\n")
    measured = evaluate(target)
    measured.update({role: read_json(os.path.join(target, role, "metrics.json")).get("evaluation", {})
                     for role in runs})
    with open(os.path.join(target, "metrics.json"), "w", encoding="utf-8") as stream:
        json.dump(measured, stream, indent=2, sort_keys=True)
        stream.write("\n")
    bench = read_json(arguments.bench) if arguments.bench else {}
    with open(os.path.join(target, "README.md"), "w", encoding="utf-8") as stream:
        stream.write(card(target, runs, measured, bench))
    size = folder_bytes(target)
    print(json.dumps(measured["evaluation"], indent=2))
    print(f"{target}: {size / 1e6:.2f} MB")
    if size > SIZE_ALLOWANCE:
        raise SystemExit(f"{target} is {size} bytes, over the allowance of {SIZE_ALLOWANCE}: make the models smaller")
    return 0


if __name__ == "__main__":
    sys.exit(main())
