"""Publishing a report: its files appear at the top of the output directory as hard links (no
second copy on disk), replaced whole when the report is published again."""
from types import SimpleNamespace

from pipelines.publish import publish


def test_report_files_are_linked_not_copied_and_replaced_on_republish(tmp_path):
    report = tmp_path / "artifacts" / "StabilityReport" / "abc"
    report.mkdir(parents=True)
    (report / "report.md").write_text("# first\n")
    (report / "results.csv").write_text("a,b\n1,2\n")
    (report / "artifact.json").write_text("{}")  # not part of the output contract
    publish(SimpleNamespace(path=report), tmp_path)
    assert (tmp_path / "report.md").read_text() == "# first\n" and not (tmp_path / "artifact.json").exists()
    assert (tmp_path / "results.csv").stat().st_ino == (report / "results.csv").stat().st_ino
    (report / "report.md").unlink()  # a recomputed report: new files
    (report / "report.md").write_text("# second\n")
    publish(SimpleNamespace(path=report), tmp_path)
    assert (tmp_path / "report.md").read_text() == "# second\n"
    assert (report / "report.md").stat().st_nlink == 2
