"""What the hosted-mode tests through a real server share: the ground outside the workspaces, and the attacks.

`Ground` lays out, next to the workspace root, a folder of things a visitor must never reach (a canary
file, a model folder, a data folder); `untouched()` checks that none of it was read (atime, where the
file system records reads), written (mtime, content) or added to, and that the root holds only
visitor workspaces. The endpoint inventory (`PATH_INPUTS`, `FILE_INPUTS`, `NOT_PATHS`) is what the
endpoint test holds every served endpoint to.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.studio.hostile_uploads import png_bytes

CANARY = "canary: a server file no visitor may read"
TWO_DAYS = 2 * 24 * 3600  # atimes this old are updated by any read, even under relatime

# Every (endpoint, parameter) that takes free text or a file, by what it is. A new one fails the inventory test
# until it is listed here, and a path-taking one must also be attacked in test_hosted_server.py.
PATH_INPUTS = {
    ("/load_model", "path_or_hub_id"), ("/train_save", "target"), ("/download_folder", "target"),
    ("/train_start", "data"), ("/scatter", "data"), ("/upload_data", "name"),
}
FILE_INPUTS = {
    ("/encode", "reference"), ("/interpolate", "first"), ("/interpolate", "second"),
    ("/inpaint_canvas", "encoded_view"), ("/inpaint", "painted"), ("/upload_data", "files"), ("/code_maps", "image"),
}
NOT_PATHS = {  # names the engine looks up in its own lists, prompts, job ids, class labels
    ("/text_to_image", "model"), ("/text_to_image", "prompt"), ("/edit_classes", "model"), ("/encode", "model"),
    ("/encode", "label"), ("/decode_sliders", "param_41"), ("/decode_sliders", "param_42"), ("/interpolate", "model"), ("/inpaint", "model"),
    ("/inpaint", "prompt"), ("/inpaint", "label"), ("/inpaint_classes", "model"), ("/manifold", "model"), ("/manifold", "label"), ("/prior_samples", "model"),
    ("/prior_samples", "label"), ("/explore_classes", "model"), ("/scatter", "model"), ("/codebook", "model"),
    ("/code_maps", "model"),
    ("/recipe_defaults", "name"), ("/train_start", "recipe_name"), ("/train_watch", "job_id"),
    ("/train_poll", "job_id"), ("/train_stop", "job_id"), ("/train_save", "job_id"), ("/train_load", "job_id"),
    ("/model_card", "name"), ("/train_curves", "job_id"), ("/training_units", "job_id"), ("/model_units", "name"),
    ("/lesson_open", "name"), ("/lesson_render", "name"), ("/lesson_tab_open", "name"),
    *((f"/refresh_models{suffix}", f"param_{index}") for suffix in ("", "_after_training", "_after_load")
      for index in range(4)),
    ("/interpolate", "label"), ("/interpolate", "second_label"), ("/interpolate", "frames_label"),
    ("/interpolation_classes", "model"),
}
TEXT_COMPONENTS = ("Textbox", "Dropdown")


def text_and_file_inputs(url: str) -> set[tuple[str, str]]:
    """Every (endpoint, parameter) of the served studio that takes free text or a file."""
    with urllib.request.urlopen(url + "gradio_api/info", timeout=30) as response:
        info = json.load(response)
    found = set()
    for name, endpoint in info["named_endpoints"].items():
        for parameter in endpoint["parameters"]:
            kind = json.dumps(parameter.get("python_type", {}))
            if parameter.get("component") in TEXT_COMPONENTS or "filepath" in kind:
                found.add((name, parameter["parameter_name"]))
    return found


def reaches_out(ground: Ground, workspace_of_other: str) -> list[str]:
    """Paths a visitor might type to reach the ground's model folder from their own workspace."""
    target = "outside/model"
    return [
        f"../../{target}", str(ground.outside / "model"), f"%2e%2e/%2e%2e/{target}", f"..%2f..%2f{target}",
        f"..\\..\\{target}", f"\uff0e\uff0e/\uff0e\uff0e/{target}", f"runs/\x00/../../../{target}", f"~/../{target}",
        f"runs/../../../{target}", f"../{workspace_of_other}/runs/model", "/", "..",
    ]


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (ValueError, urllib.error.URLError) as error:  # a URL the client itself will not send
        return -1, str(error).encode()


@dataclass
class Ground:
    base: Path
    root: Path = field(init=False)
    outside: Path = field(init=False)
    records_reads: bool = field(init=False)
    _before: dict = field(init=False)

    def __post_init__(self) -> None:
        self.root = self.base / "workspaces"
        self.outside = self.base / "outside"
        (self.outside / "model").mkdir(parents=True)
        (self.outside / "data").mkdir()
        self.root.mkdir()
        (self.outside / "canary.txt").write_text(CANARY)
        (self.outside / "model" / "config.json").write_text(json.dumps({"family": "VAE", "latent_dims": 4}))
        (self.outside / "model" / "README.md").write_text(CANARY)
        (self.outside / "data" / "0.png").write_bytes(png_bytes())
        (self.outside / "data" / "metadata.jsonl").write_text(json.dumps({"file_name": "0.png", "text": CANARY}))
        self.records_reads = _file_system_records_reads(self.base)
        self.age()

    def age(self) -> None:
        """Sets every outside file's atime two days back, then remembers (atime, mtime, content)."""
        contents = {str(path): path.read_bytes() for path in self._files()}  # read first: reading sets atimes
        past = time.time() - TWO_DAYS
        for path in self._files():
            os.utime(path, (past, path.stat().st_mtime))
        self._before = {path: (os.stat(path).st_atime, os.stat(path).st_mtime, content)
                        for path, content in contents.items()}

    def _files(self) -> list[Path]:
        return sorted(path for path in self.outside.rglob("*") if path.is_file())

    def untouched(self) -> None:
        """Asserts nothing outside the workspaces was read, written or added, and the root holds only workspaces."""
        after = {path: os.stat(path) for path in map(str, self._files())}
        assert set(after) == set(self._before), f"files appeared or vanished outside: {set(after) ^ set(self._before)}"
        for path, (atime, mtime, content) in self._before.items():
            assert after[path].st_mtime == mtime, f"{path} was written"
            if self.records_reads:
                assert after[path].st_atime == atime, f"{path} was read"
        for path, (_, _, content) in self._before.items():  # reading here updates atimes: so, last
            assert Path(path).read_bytes() == content
        assert sorted(entry.name for entry in self.base.iterdir()) == ["outside", "workspaces"]
        for entry in self.root.iterdir():
            assert entry.is_dir() and not entry.is_symlink() and re.fullmatch(r"[0-9a-f]{24}", entry.name), entry
        self.age()


def _file_system_records_reads(folder: Path) -> bool:
    probe = folder / ".atime-probe"
    probe.write_text("probe")
    past = time.time() - TWO_DAYS
    os.utime(probe, (past, past))
    probe.read_text()
    recorded = probe.stat().st_atime > past + 1
    probe.unlink()
    return recorded
