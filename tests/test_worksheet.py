"""The design worksheet: written empty, then checked cell by cell against
the network as the grader traces it."""

import functools

from tinycnn.__main__ import main
from tinycnn.learner import worksheet
from tinycnn.learner.summary import summarize
from tinycnn.learner.workspace import load_step
from tinycnn.paths import ROOT


@functools.cache  # each trace takes seconds
def rows(step="i3"):
    return summarize(load_step(ROOT / "solutions" / step).model.Net())


def filled(step="i3") -> str:
    lines = worksheet.blank(rows(step)).splitlines()[:2]
    for i, t in enumerate(worksheet.truth(rows(step)), 1):
        lines.append(f"| l{i} | {t['C_in']} | {t['C_out']} | {t['H×W']} | "
                     f"{int(t['parameters']):,} | {t['receptive field']} |")
    return "\n".join(lines) + "\n"


def test_a_right_worksheet_passes_and_a_wrong_cell_is_named():
    assert worksheet.check(filled(), rows()) == []
    text = filled().replace("| 7×7 |", "| 7x7 |", 1)  # the same, typed so
    assert worksheet.check(text, rows()) == []
    lines = filled().splitlines()
    cells = lines[4].split("|")
    cells[5] = " 999 "  # row 3's parameters
    lines[4] = "|".join(cells)
    said = worksheet.check("\n".join(lines), rows())
    assert len(said) == 1 and said[0].startswith("row 3 (l3): parameters 999")


def test_empty_cells_wait_and_missing_rows_are_counted():
    blank = worksheet.blank(rows())
    assert worksheet.check(blank, rows()) == []
    short = "\n".join(blank.splitlines()[:-1])
    assert "rows written" in worksheet.check(short, rows())[0]
    assert "first row" in worksheet.check("| a | b |", rows())[0]


def test_the_summary_command_writes_then_checks(tmp_path, capsys):
    sheet = tmp_path / "plan.md"
    folder = str(ROOT / "solutions" / "i3")
    assert main(["summary", folder, "--worksheet", str(sheet)]) == 0
    assert sheet.read_text() == worksheet.blank(rows())
    sheet.write_text(filled())
    assert main(["summary", folder, "--worksheet", str(sheet)]) == 0
    assert "every filled cell matches" in capsys.readouterr().out
    sheet.write_text(filled().replace("| 1 | ", "| 2 | ", 1))
    assert main(["summary", folder, "--worksheet", str(sheet)]) == 1
    assert "C_in 2, the network's is 1" in capsys.readouterr().out
