"""The report's figure: for every row of the table, ours (mean ± sd over seeds) against the
columns, with the paper's values as open markers in the same colour. Drawn with matplotlib's
object API on the Agg canvas: no pyplot, no global backend, nothing that needs a display."""
from __future__ import annotations

from pathlib import Path

from engine.atomic import atomic_path
from engine.reproduce.declaration import Reproduction
from engine.reproduce.table import Line


def plot_table(repro: Reproduction, lines: list[Line], path: Path) -> Path | None:
    """Write ``path`` (PNG); None when nothing is measured or paper-valued to plot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    columns = list(dict.fromkeys(ln.column for ln in lines))
    rows = list(dict.fromkeys(ln.row for ln in lines))
    if not any(ln.n or (ln.paper and ln.paper.value is not None) for ln in lines):
        return None
    fig = Figure(figsize=(max(6.0, 0.9 * len(columns) + 3), 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x_of = {c: i for i, c in enumerate(columns)}
    colours = [f"C{i % 10}" for i in range(len(rows))]
    for row, colour in zip(rows, colours):
        mine = [ln for ln in lines if ln.row == row]
        measured = [ln for ln in mine if ln.n]
        if measured:
            ax.errorbar([x_of[ln.column] for ln in measured], [ln.mean for ln in measured],
                        yerr=[ln.sd or 0.0 for ln in measured], color=colour, marker="o", capsize=3,
                        label=f"{row} (ours)")
        paper = [ln for ln in mine if ln.paper and ln.paper.value is not None]
        if paper:
            ax.plot([x_of[ln.column] for ln in paper], [ln.paper.value for ln in paper], linestyle="none",
                    marker="s", markerfacecolor="none", markersize=9, color=colour, label=f"{row} (paper)")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=30 if len(columns) > 4 else 0, ha="right" if len(columns) > 4 else "center")
    ax.set_xlabel(repro.x_label)
    ax.set_ylabel(repro.unit)
    ax.set_title(f"{repro.name}: {repro.paper}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return path
