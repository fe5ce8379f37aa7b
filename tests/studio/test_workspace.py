"""The confinement rule of hosted mode (studio.workspace): a traversal corpus, symlinks, expiry."""

from __future__ import annotations

import os
import time

import pytest

from studio import workspace
from studio.workspace import PathRefused, confine

# Each of these must be refused, whatever the workspace holds.
TRAVERSALS = {
    "parent": "..",
    "parent then file": "../outside.txt",
    "deep parent": "runs/../../outside.txt",
    "many parents": "../../../../../../etc/passwd",
    "absolute": "/etc/passwd",
    "absolute root": "/",
    "double slash absolute": "//etc/passwd",
    "home": "~/secrets",
    "home of another user": "~root/.ssh",
    "backslash parent": "..\\outside.txt",
    "windows absolute": "C:\\Windows\\system.ini",
    "percent-encoded dots": "%2e%2e/outside.txt",
    "percent-encoded slash": "..%2foutside.txt",
    "double percent-encoded": "%252e%252e%252foutside.txt",
    "NUL byte": "runs/model\x00/../../outside.txt",
    "NUL at end": "runs\x00",
    "newline": "runs\n/../outside.txt",
    "fullwidth dots": "\uff0e\uff0e/outside.txt",
    "fullwidth slash": "..\uff0foutside.txt",
    "one dot leader": "\u2024\u2024/outside.txt",
    "combining characters": "runs\u0301/x",
    "empty": "",
    "blank": "   ",
}


@pytest.mark.parametrize("name", list(TRAVERSALS))
def test_every_traversal_is_refused_with_a_403_that_says_what_to_do(name, tmp_path):
    home = tmp_path / "root" / "visitor"
    home.mkdir(parents=True)
    (tmp_path / "root" / "outside.txt").write_text("canary")
    with pytest.raises(PathRefused) as refusal:
        confine(home, TRAVERSALS[name])
    message = str(refusal.value)
    assert message.startswith("Refused (403)") and "relative to it" in message, message


@pytest.mark.parametrize("typed, expected", [
    ("runs/my-model", "runs/my-model"),
    ("  runs/my-model  ", "runs/my-model"),
    ("./runs//my-model/", "runs/my-model"),
    ("uploads/cats and dogs", "uploads/cats and dogs"),
    ("café", "café"),  # NFC-normalised text is plain text
    (".", ""),
])
def test_ordinary_names_land_inside_the_workspace(typed, expected, tmp_path):
    home = tmp_path / "visitor"
    home.mkdir()
    assert confine(home, typed) == (home / expected).resolve()


def test_a_symlink_that_leads_out_is_refused_and_one_that_stays_in_is_followed(tmp_path):
    home = tmp_path / "visitor"
    (home / "inside").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (home / "escape").symlink_to(outside)
    (home / "shortcut").symlink_to(home / "inside")
    with pytest.raises(PathRefused, match="outside your workspace"):
        confine(home, "escape/file.txt")
    with pytest.raises(PathRefused):
        confine(home, "escape")
    assert confine(home, "shortcut/model") == (home / "inside" / "model").resolve()


def test_a_workspace_reached_through_a_symlinked_root_still_confines(tmp_path):
    real = tmp_path / "real"
    (real / "visitor").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    home = tmp_path / "link" / "visitor"
    assert confine(home, "runs") == (real / "visitor" / "runs").resolve()
    with pytest.raises(PathRefused):
        confine(home, "../other-visitor")


def test_visitor_names_are_hashes_of_the_key_and_differ_per_visitor():
    first, second = workspace.visitor_name("session-a"), workspace.visitor_name("session-b")
    assert first != second and len(first) == 24 and "session" not in first
    assert workspace.visitor_name("../../etc") not in ("..", "etc") and "/" not in workspace.visitor_name("a/b")


def test_expiry_deletes_only_old_unkept_workspaces(tmp_path):
    old, fresh, busy = (tmp_path / name for name in ("old", "fresh", "busy"))
    for folder in (old, fresh, busy):
        (folder / "runs").mkdir(parents=True)
        (folder / "runs" / "file").write_text("x")
    an_hour_ago = time.time() - 3600
    for folder in (old, busy):
        os.utime(folder, (an_hour_ago, an_hour_ago))
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "link-out").symlink_to(outside)
    removed = workspace.expire(tmp_path, max_age_seconds=600, keep=frozenset({"busy"}))
    assert removed == ["old"] and not old.exists() and fresh.exists() and busy.exists() and outside.exists()


def test_folder_size_counts_files_not_link_targets(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 100)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 50)
    big = tmp_path.parent / f"{tmp_path.name}-big"
    big.write_bytes(b"z" * 10_000)
    (tmp_path / "link").symlink_to(big)
    assert workspace.folder_size(tmp_path) == 150 + len(os.readlink(tmp_path / "link"))
