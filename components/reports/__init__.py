"""Report sections: each analysis of a study ships one section (gather -> table -> plot -> a
sentence of findings); a study's report is the list of its sections (`SECTIONS` in its module).

    section.py   Section(text, findings, summary), section(...), compose(title, sections),
                 markdown(frame), mean_std(values): the one way a report is put together
    names.py     the variant / baseline names the reports judge and print (one place)
    stability/   StabilityReport's sections   (components/reports/stability/report.py: params, SPEC)
    sanity/      SanityReport's sections      (components/reports/sanity/report.py)
    prac/        PracReport's sections        (components/reports/prac/report.py)
    data_diet/   DataDietReport's sections    (components/reports/data_diet/report.py)

The generic Report (components/reports/report.py) is a list of four sections in that module. Shared
plotting (the weights-remaining log axis, one colour per configuration, level colours, other log
axes, the sanity variants' styles) is components/reports/plotting.py; the findings sentences and the
glossary are components/reports/text.py. To add an analysis: write `def my_analysis(data) ->
Section` in the study's package (gather from `data.inputs`, write its CSV / PNG into `data.out`,
return its markdown and findings) and add it to the study's SECTIONS where it should print.
"""
