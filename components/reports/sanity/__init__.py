"""The sanity study's report sections (SanityReport, components/reports/sanity/report.py; paper 002).

    gather.py    every network's row, the well-trained reference, the verdicts: SanityData
    tables.py    accuracy per rate, verdicts as printed, R_p tables
    words.py     findings along the sweep, jackpot words, definitions
    plots.py     Fig. A.1 / D.*, Fig. G.1, the findings plot, the tuner's trials
    sections.py  intro, verdicts, accuracy, correlation, tuner, findings (SECTIONS, in report order)
"""
