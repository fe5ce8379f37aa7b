"""The licence of one installed file, read from its Debian package's ``copyright`` file.

Machine-readable copyright files (DEP-5, https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/)
have ``Files:`` stanzas with glob patterns, each with ``Copyright:`` and ``License:``; the last stanza whose
pattern matches a file wins. The patterns name files in the *source* tree (``16.04/Dragonfly.jpg``), not
where they are installed (``usr/share/backgrounds/Dragonfly.jpg``), so a pattern matches an installed path
when it matches the path itself, a tail of it, or (for a pattern without wildcards in its last part) its
file name.

Free-form copyright files (no ``Format:`` line) name their licences in prose ("Licensed under Creative
Commons Attribution-ShareAlike 3.0 License."); for those, ``licence_of`` gives every licence the file names,
joined with " / ", marked as a package-wide statement.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import posixpath
import re


@dataclasses.dataclass(frozen=True)
class FilesStanza:
    patterns: tuple[str, ...]
    copyright: str
    licence: str


@dataclasses.dataclass(frozen=True)
class FileLicence:
    licence: str  # e.g. "CC-BY-SA-4.0"; for a free-form file: the licences it names, " / "-joined
    copyright: str  # the holders as the copyright file says them ("" when not stated per file)
    per_file: bool  # True: a DEP-5 stanza names this file (or a pattern it matches); False: package-wide


def _fields(paragraph: str) -> dict[str, str]:
    """A DEP-5 paragraph -> {field: value}, continuation lines joined with newlines."""
    fields: dict[str, str] = {}
    current = None
    for line in paragraph.splitlines():
        if line[:1] in (" ", "\t") and current is not None:
            fields[current] += "\n" + line.strip()
            continue
        name, separator, value = line.partition(":")
        if separator and name and " " not in name:
            current = name.strip().lower()
            fields[current] = value.strip()
    return fields


def is_machine_readable(text: str) -> bool:
    return text.lstrip().lower().startswith("format:")


def files_stanzas(text: str) -> list[FilesStanza]:
    """The ``Files:`` stanzas of a DEP-5 copyright file, in order."""
    stanzas = []
    for paragraph in re.split(r"\n\s*\n", text):
        fields = _fields(paragraph)
        if "files" not in fields or "license" not in fields:
            continue
        patterns = tuple(fields["files"].split())
        licence = fields["license"].splitlines()[0].strip()  # the short name; the full text may follow
        holders = " ".join(line.strip() for line in fields.get("copyright", "").splitlines() if line.strip())
        stanzas.append(FilesStanza(patterns, holders, licence))
    return stanzas


def pattern_matches(pattern: str, installed_path: str) -> bool:
    """Does a ``Files:`` pattern (source tree) name this installed path (relative, '/'-separated)?"""
    path = installed_path.lstrip("/")
    if pattern == "*":
        return True
    if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, "*/" + pattern):
        return True
    name = posixpath.basename(pattern)
    return not any(character in name for character in "*?[") and name == posixpath.basename(path)


_FREE_FORM_LICENCE = re.compile(r"Licen[cs]ed under (?:the )?(.+?)(?: [Ll]icen[cs]e)?\.?\s*$", re.MULTILINE)


def licence_of(text: str, installed_path: str) -> FileLicence | None:
    """The licence of ``installed_path`` by the copyright file ``text``; None when it says nothing usable."""
    if is_machine_readable(text):
        found = None
        for stanza in files_stanzas(text):
            if any(pattern_matches(pattern, installed_path) for pattern in stanza.patterns):
                found = FileLicence(stanza.licence, stanza.copyright, per_file=stanza.patterns != ("*",))
        return found
    names = list(dict.fromkeys(match.strip() for match in _FREE_FORM_LICENCE.findall(text)))
    if not names:
        return None
    return FileLicence(" / ".join(names), "", per_file=False)
