"""The stability study's report sections (StabilityReport, components/reports/stability/report.py).

    gather.py       every network's row (results.csv) and StabilityData, what the sections read
    tables.py       ★ verdicts, the ticket table at the paper's sparsities, level tables
    tickets.py      header, runs stuck at chance, dynamics, ticket accuracy (+ plot), baselines,
                    AIMP, disentangling, late rewinding (findings)
    instability.py  error barriers (+ interpolation and barrier plots, stability findings),
                    first stable rewind point
    probes.py       linear probes, few-shot, transfer (+ their plots)
"""
