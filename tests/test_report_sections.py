"""Report sections: a report is its sections' text in order, opened by their findings in order
and closed by the glossary; empty sections leave no trace; the shared plotting helpers give one
colour per level and ticks at exactly the values given."""
import matplotlib.pyplot as plt
import pandas as pd

from components.reports import plotting as plotting
from components.reports.section import Section, compose, markdown, mean_std, section, summary


def test_compose_orders_text_and_findings_and_skips_empty_sections():
    sections = [section("## A\n", "alpha.\n", findings=["First."]), Section(),
                section(findings=["Second.", ""]), section("## B\n", rows=3)]
    text = compose("T", sections)
    assert text.startswith("# T\n\n## Findings\n\nFirst. Second.\n\n## A\n\nalpha.\n\n## B\n")
    assert text.index("## A") < text.index("## B") and "\n\n\n\n" not in text
    assert summary(sections) == {"rows": 3}


def test_compose_without_findings_keeps_the_empty_paragraph_slot():
    # report.md text must stay as before the refactor: the empty findings slot is one blank line.
    assert compose("T", [section("x\n")]) == "# T\n\n\nx\n\n"


def test_glossary_lists_terms_the_sections_use():
    assert "## Glossary" in compose("T", [section("ticket at L5\n")])


def test_markdown_and_mean_std():
    assert markdown(pd.DataFrame({"a": [0.5, float("nan")], "b": ["x", "y"]})) == \
        "| a | b |\n|---|---|\n| 0.5000 | x |\n|  | y |\n"
    assert mean_std([1.0, 3.0]) == "2.0000 ± 1.4142" and mean_std([1.0]) == "1.0000"


def test_level_colors_are_sequential_and_order_free():
    a, b = plotting.level_colors([3, 1, 2]), plotting.level_colors([1, 2, 3])
    assert a == b and a[1] == plt.get_cmap("viridis")(0.0) and a[3] == plt.get_cmap("viridis")(0.85)


def test_log_axis_ticks_at_the_values():
    fig, ax = plt.subplots()
    plotting.log_axis(ax, [0.3, 0.02], lambda v: f"{v:g}")
    assert ax.get_xscale() == "log" and list(ax.get_xticks()) == [0.02, 0.3]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.02", "0.3"]
    plt.close(fig)
