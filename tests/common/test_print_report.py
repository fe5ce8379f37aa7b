"""A measurement report is printed as JSON and, when asked, written to a file with the same text."""

from __future__ import annotations

import json

from vaestudio.common.files import print_report


def test_the_report_is_printed_and_written_alike(tmp_path, capsys):
    out = tmp_path / "report.json"
    print_report({"b": 1, "a": [0.5]}, str(out), sort_keys=True)
    printed = capsys.readouterr().out
    assert printed == out.read_text(encoding="utf-8") and printed.index('"a"') < printed.index('"b"')
    assert json.loads(printed) == {"a": [0.5], "b": 1}
    print_report({"only": "printed"})
    assert json.loads(capsys.readouterr().out) == {"only": "printed"}
