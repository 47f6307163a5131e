"""The PrAC study's report sections (PracReport, components/reports/prac/report.py; papers 000, 001).

    gather.py         every network's row (results.csv), the headline variant, verdicts, savings: PracData
    tables.py         savings (001 Fig. 3 rule), early-stop pairs, verdicts, set sizes, CEP table, similarity
    plots.py          accuracy bands, search cost, mask similarity, class ratios
    figures.py        the papers' pictures: 001 Fig. 9, Fig. 2, 000 Fig. A16 (readers + plots)
    sections.py       accuracy, verdicts (+ findings), savings, steps, example sets, class ratios,
                      similarity, transfer, saliency, all variants
    paper_figures.py  the sections of the papers' figures and of the forgetting arms
"""
