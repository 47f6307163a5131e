"""The data-diet study's report sections (DataDietReport, components/reports/data_diet/report.py; paper 004).

    gather.py     every network's row, the summary, dominance and matching tables: DietData
    dominance.py  Definitions 3.1 / 3.2 on the mean curves: relations, D / W matrix, matching
    sections.py   initializations (+ plots, findings), dominance and matching, all variants (SECTIONS)
"""
