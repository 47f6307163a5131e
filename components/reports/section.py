"""A report section: what one analysis adds to a study's report.

Each analysis is one function that gathers its numbers, writes its tables (CSV) and plots
(PNG) into the report's directory and returns a `Section`: the markdown it contributes and the
sentences it adds to the report's opening findings paragraph. A study's report is a list of
such functions; `compose` puts their sections together as every report reads:

    # title
    ## Findings   (the sections' findings, in section order)
    <section 1>
    <section 2> ...
    ## Glossary   (the terms the text uses, report_text.glossary)

`markdown(frame)` prints a table the way every report prints it.
"""
import dataclasses
from typing import Iterable, Mapping, Tuple

import numpy as np
import pandas as pd

from components.reports import text as report_text


@dataclasses.dataclass(frozen=True)
class Section:
    text: str = ""  # markdown; '' when the analysis has nothing to show (the section is left out)
    findings: Tuple[str, ...] = ()  # sentences for the opening findings paragraph
    summary: Mapping = dataclasses.field(default_factory=dict)  # numbers for the report's artifact.json


def section(*parts: str, findings: Iterable[str] = (), **summary) -> Section:
    """A Section whose text is `parts` joined by blank-line-separated markdown chunks."""
    return Section("\n".join(parts), tuple(findings), summary)


def compose(title: str, sections: Iterable[Section], note: str = "") -> str:
    """The report's markdown: title, `note` (a caveat on the whole run, e.g. a smoke test's),
    findings paragraph, the sections with text, glossary."""
    sections = list(sections)
    found = [f for s in sections for f in s.findings]
    head = [f"# {title}\n"] + ([f"> {note.strip()}\n"] if note.strip() else [])
    text = "\n".join(head + [report_text.findings_section(found)] + [s.text for s in sections if s.text])
    return text + "\n" + report_text.glossary(text)


def summary(sections: Iterable[Section]) -> dict:
    """The sections' summary numbers, merged (later sections win on a shared key)."""
    merged = {}
    for s in sections:
        merged.update(s.summary)
    return merged


def markdown(frame: pd.DataFrame, floatfmt=".4f") -> str:
    if frame.empty:
        return "_(no rows)_\n"
    cols = list(frame.columns)
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(v, floatfmt)
        return str(v)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def mean_std(values, digits: int = 4) -> str:
    """'mean ± std' over seeds (just the mean for one seed)."""
    values = np.asarray(values, float)
    if len(values) > 1:
        return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"
    return f"{values.mean():.{digits}f}"
