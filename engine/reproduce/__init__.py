"""`pointlens reproduce`: the papers' headline tables and figures, re-run and reported.

declaration  what a reproduction declares (paper values, cells, how a cell runs, two scales)
registry     the reproductions by name; the shipped ones live in one module per paper result
runner       cells in order, resumable (one atomic JSON file per finished cell), plan and merge
table        finished cells -> mean ± sd per table line
report       report.md, report.json and the figure (figures) of a report folder
"""
