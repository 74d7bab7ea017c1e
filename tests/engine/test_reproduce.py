"""`pointlens reproduce`: the runner's table, resume, plan and merge on a fake reproduction whose
cells compute a number from their configuration, and one real reproduction (pointmask-fig4 via
the bias lab) at a tiny scale."""
from __future__ import annotations

import dataclasses
import json
import math
import threading

import pytest

from engine.cli import main
from engine.core.jobs import drive
from engine.core.types import Progress
from engine.reproduce import registry
from engine.reproduce.declaration import Cell, PaperValue, Reproduction, Settings, seeds_of
from engine.reproduce.runner import merge, plan, run

CALLS: list[str] = []


def fake_cells(settings: Settings, scale) -> list[Cell]:
    return [Cell(f"a{a}-s{s}", {"a": a, "seed": s}) for a in scale["a"] for s in seeds_of(settings)]


def fake_run(cell: Cell, settings: Settings, scale):
    CALLS.append(cell.id)
    if cell.id in FAIL:
        raise RuntimeError(f"killed in {cell.id}")
    yield Progress(0, 1, "working")
    a, s = cell.config["a"], cell.config["seed"]
    return {(f"a={a}", "x"): 10.0 * a + s, (f"a={a}", "y"): float(a * a)}


FAIL: set[str] = set()
FAKE = Reproduction(
    name="fake-test", title="fake", paper="Nobody, Table 0", paper_setting="nothing",
    paper_values={("a=1", "x"): PaperValue("11", "Table 0", 11.0), ("a=9", "x"): PaperValue("90", "Table 0", 90.0)},
    cells=fake_cells, run_cell=fake_run, quick={"a": (1, 2)}, full={"a": (1, 2, 3)}, unit="units")


@pytest.fixture()
def fake():
    CALLS.clear()
    FAIL.clear()
    registry.register(FAKE, replace=True)
    yield FAKE
    registry.unregister(FAKE.name)


def finish(gen):
    result = drive(gen)
    assert result is not None
    return result


def table_of(report: dict) -> dict:
    return {(t["row"], t["column"]): (t["mean"], t["sd"], t["n"], t["paper"] and t["paper"]["text"])
            for t in report["table"]}


def test_table_has_every_line_with_mean_sd_and_paper(fake, tmp_path):
    report = finish(run(fake, Settings(seeds=2, quick=True), tmp_path))
    t = table_of(report)
    # a=1: x = 10, 11 (seeds 0, 1); a=2: x = 20, 21; y = a^2 for each seed
    assert t[("a=1", "x")][:3] == (10.5, pytest.approx(math.sqrt(0.5)), 2) and t[("a=1", "x")][3] == "11"
    assert t[("a=2", "x")][:3] == (20.5, pytest.approx(math.sqrt(0.5)), 2)
    assert t[("a=2", "y")][:3] == (4.0, 0.0, 2)
    assert t[("a=9", "x")] == (None, None, 0, "90")     # paper value no cell measures: 'not run'
    assert list(t)[:4] == [("a=1", "x"), ("a=1", "y"), ("a=2", "x"), ("a=2", "y")]
    assert sorted(p.name for p in (tmp_path / "cells").iterdir()) == [f"{c}.json" for c in
                                                                       ("a1-s0", "a1-s1", "a2-s0", "a2-s1")]
    md = (tmp_path / "report.md").read_text()
    assert "| a=1 | x | 11 | 10.5 ± 0.707 | 2 | Table 0 |" in md
    assert "| a=9 | x | 90 | not run | 0 |" in md
    assert "pointlens reproduce fake-test --data builtin --seeds 2 --quick --out" in md
    assert "numpy" in md and "torch" in md and "builtin-v" in md     # versions and data fingerprint
    png = tmp_path / "figures" / "fake-test.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "report.json").read_text())["cells_finished"] == 4


def test_killed_run_resumes_from_finished_cells(fake, tmp_path):
    settings = Settings(seeds=2, quick=True)
    FAIL.add("a2-s0")                                   # the process dies in the third cell
    with pytest.raises(RuntimeError):
        finish(run(fake, settings, tmp_path))
    assert CALLS == ["a1-s0", "a1-s1", "a2-s0"]
    FAIL.clear()
    CALLS.clear()
    report = finish(run(fake, settings, tmp_path))
    assert CALLS == ["a2-s0", "a2-s1"]                  # finished cells are not run again
    assert report["cells_finished"] == 4 and table_of(report)[("a=2", "x")][0] == 20.5
    CALLS.clear()
    finish(run(fake, settings, tmp_path))
    assert CALLS == []


def test_cancel_keeps_finished_cells_only(fake, tmp_path):
    cancel = threading.Event()

    def stop_after_first_cell(p: Progress):
        if p.preview and p.preview.get("cell") == "a1-s0":
            cancel.set()
            # the live table already holds the finished cell
            assert [(r["row"], r["column"], r["n"]) for r in p.preview["table"]][:2] == [("a=1", "x", 1), ("a=1", "y", 1)]

    assert drive(run(fake, Settings(seeds=2, quick=True), tmp_path), stop_after_first_cell, cancel) is None
    assert [p.name for p in (tmp_path / "cells").iterdir()] == ["a1-s0.json"]
    assert not (tmp_path / "report.md").exists()


def test_plan_lists_exactly_the_unfinished_cells(fake, tmp_path, capsys):
    settings = Settings(seeds=2, quick=True)
    finish(run(fake, settings, tmp_path, cell_id="a1-s1"))
    assert [c.id for c in plan(fake, settings, tmp_path)] == ["a1-s0", "a2-s0", "a2-s1"]
    assert main(["reproduce", "fake-test", "--seeds", "2", "--quick", "--out", str(tmp_path), "--plan"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split("--cell ")[1] for ln in lines] == ["a1-s0", "a2-s0", "a2-s1"]
    assert all(ln.startswith("pointlens reproduce fake-test --data builtin --seeds 2 --quick --out ") for ln in lines)


def test_cells_run_as_separate_commands_merge_into_the_same_table(fake, tmp_path, capsys):
    whole = finish(run(fake, Settings(seeds=2, quick=True), tmp_path / "whole"))
    out = tmp_path / "array"
    assert main(["reproduce", "fake-test", "--seeds", "2", "--quick", "--out", str(out), "--plan", "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    for cell in reversed(planned["cells"]):             # any order, as a scheduler may
        assert main(["reproduce", "fake-test", "--seeds", "2", "--quick", "--out", str(out), "--cell", cell]) == 0
    assert not (out / "report.md").exists()             # a single cell writes no report
    capsys.readouterr()
    assert main(["reproduce", "--merge", str(out), "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert table_of(merged) == table_of(whole)
    assert merged["missing_cells"] == [] and (out / "report.md").exists()


def test_merge_of_a_partial_folder_lists_the_missing_cells(fake, tmp_path):
    settings = Settings(seeds=2, quick=True)
    finish(run(fake, settings, tmp_path, cell_id="a2-s1"))
    report = merge(fake, settings, tmp_path)
    assert report["missing_cells"] == ["a1-s0", "a1-s1", "a2-s0"]
    assert table_of(report)[("a=2", "x")][:3] == (21.0, None, 1)
    assert "Not run yet: a1-s0, a1-s1, a2-s0." in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize("argv, words", [
    (["reproduce", "no-such-thing"], "no reproduction named 'no-such-thing'"),
    (["reproduce", "fake-test", "--quick", "--cell", "zz"], "--cell 'zz'"),
    (["reproduce", "fake-test", "--seeds", "0"], "--seeds 0"),
    (["reproduce"], "NAME"),
])
def test_bad_name_or_cell_is_one_line_and_exit_2(fake, tmp_path, capsys, argv, words):
    assert main(argv + ["--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and err[0].startswith("pointlens reproduce: ")


def test_resume_with_other_settings_is_refused(fake, tmp_path, capsys):
    finish(run(fake, Settings(seeds=1, quick=True), tmp_path))
    assert main(["reproduce", "fake-test", "--seeds", "2", "--quick", "--out", str(tmp_path)]) == 2
    assert "seeds differ" in capsys.readouterr().err


def test_list_names_every_shipped_reproduction(capsys):
    assert main(["reproduce", "--list", "--json"]) == 0
    names = [r["name"] for r in json.loads(capsys.readouterr().out)["reproductions"]]
    assert {"pointmask-fig4", "flowam-table1", "flowam-fig2", "flowam-sanity", "parae-table1",
            "sagemix-table3", "serp-finetune"} <= set(names)


def test_real_pointmask_fig4_at_tiny_scale(tmp_path):
    from engine.reproduce.pointmask_fig4 import REPRODUCTION

    tiny = {"models": ("pointnet", "pointmask"), "levels": (1,), "epochs": 1, "points": 64, "limit": 20,
            "width": 0.125, "batch_size": 10, "classes": "0,1"}
    repro = dataclasses.replace(REPRODUCTION, name="pointmask-fig4-tiny", quick=tiny)
    report = finish(run(repro, Settings(seeds=1, quick=True), tmp_path))
    t = table_of(report)
    measured = [k for k, v in t.items() if v[2]]
    assert measured == [("PointNet, unbiased test", "1"), ("PointNet, biased test", "1"),
                        ("PointMask, unbiased test", "1"), ("PointMask, biased test", "1")]
    assert all(0.0 <= t[k][0] <= 100.0 and t[k][2] == 1 for k in measured)
    assert t[("PointMask, unbiased test", "256")] == (None, None, 0, "76")   # the paper's line, not run here
    assert sorted(p.stem for p in (tmp_path / "cells").iterdir()) == ["pointmask-k1-s0", "pointnet-k1-s0"]
    cell = json.loads((tmp_path / "cells" / "pointnet-k1-s0.json").read_text())
    assert cell["stamp"]["scale"]["epochs"] == 1 and cell["seconds"] > 0


def test_bias_lab_plan_cells_and_merge(tmp_path, capsys):
    import shlex

    folder = tmp_path / "lab"
    lab = ["bias-lab", "--data", "builtin", "--levels", "1", "--models", "pointnet,pointmask", "--epochs", "1",
           "--points", "64", "--limit", "20", "--width", "0.125", "--batch-size", "10", "--classes", "0,1"]
    assert main(lab + ["--plan"]) == 2                  # --plan needs the cells folder
    assert "--cells DIR" in capsys.readouterr().err
    assert main(lab + ["--cells", str(folder), "--plan"]) == 0
    commands = capsys.readouterr().out.strip().splitlines()
    assert [c.split("--cell ")[1] for c in commands] == ["pointnet-k1-s0", "pointmask-k1-s0"]
    assert main(shlex.split(commands[1])[1:]) == 0      # each printed command runs on its own
    capsys.readouterr()
    assert main(lab + ["--cells", str(folder), "--plan"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == commands[:1]
    assert main(shlex.split(commands[0])[1:]) == 0
    capsys.readouterr()
    assert main(["bias-lab", "--merge", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cell = json.loads((folder / "cells" / "pointmask-k1-s0.json").read_text())
    t = table_of(report)
    assert t[("PointMask, unbiased test", "1")][:3] == (cell["values"][0][2], None, 1)
    assert report["missing_cells"] == [] and report["command"].startswith("pointlens bias-lab --data builtin")
    assert (folder / "report.md").exists()


FLOW = {"steps": 2, "points": 64, "init_objects": 2, "stats_per_class": 2, "fid_reals": 4, "fid_layers": "global"}
# Every shipped reproduction's cell runner at a tiny scale (a cell or two, seconds each): the
# catalog method runs and its result lands in the table lines the paper's values name.
TINY = {
    "flowam-table1": ({"methods": ("flow",), "classes": ("bed",), **FLOW},
                      [("Flow", "Logit"), ("Flow", "log-softmax"), ("Flow", "CD (Eq. 7)"), ("Flow", "FID")]),
    "flowam-fig2": ({"layers": "aliases", "explanations": "both", "pairs": 1, "per_class": 2, **FLOW},
                    [("same class (real, real)", "fT1.fc1"), ("Flow AM vs real", "fT1.fc1")]),
    "flowam-sanity": ({"classes": ("bed",), "accuracy_per_class": 1, **FLOW, "steps": 1},
                      [("Flow AM: CD to real objects", f"P_D={lv:g}") for lv in (0, 0.1, 0.2, 0.3, 0.4, 0.5)]),
    "parae-table1": ({"limit": 20, "points": 64, "batch_size": 10},
                     [("linear SVM", "ParAE pre-trained"), ("linear SVM", "random init (BN from data)")]),
    "serp-finetune": ({"epochs": 1, "limit": 20, "points": 64, "batch_size": 10},
                      [("test accuracy", "scratch"), ("test accuracy", "pre-trained"), ("test accuracy", "gain")]),
    "sagemix-table3": ({"model": "pointnet", "width": 0.125, "epochs": 1, "points": 64, "limit": 20, "batch_size": 10},
                       [("+ SageMix", c) for c in ("clean", "noise:0.01", "rotate-z:180", "dropout:0.5", "ECE")]),
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_reproduction_runs_a_cell_at_tiny_scale(name, tmp_path):
    repro = registry.get(name)
    scale, lines = TINY[name]
    last_cell_only = lambda settings, sc: repro.cells(settings, sc)[-1:]      # noqa: E731 - one cell is enough
    tiny = dataclasses.replace(repro, quick=scale, cells=last_cell_only)
    report = finish(run(tiny, Settings(seeds=1, quick=True), tmp_path))
    t = table_of(report)
    for key in lines:
        assert t[key][2] == 1 and math.isfinite(t[key][0]), key
    assert report["cells_finished"] == 1 and (tmp_path / "report.md").exists()
    for key, paper in repro.paper_values.items():      # every paper value is a line of the table
        assert t[key][3] == paper.text


def test_docs_page_shows_report_tables_and_says_where_none_exists(fake, tmp_path):
    from engine.reproduce.docs_page import NOT_RUN, main as docs_main

    finish(run(fake, Settings(seeds=2, quick=False), tmp_path / "reports" / "fake-full"))
    page = tmp_path / "reproductions.md"
    assert docs_main(["--reports", str(tmp_path / "reports"), "--out", str(page)]) == 0
    text = page.read_text()
    fake_part = text.split("## fake-test")[1]
    assert "| a=3 | x | — | 30.5 ± 0.707 | 2 |" in fake_part and NOT_RUN not in fake_part
    assert "## pointmask-fig4" in text and NOT_RUN in text.split("## pointmask-fig4")[1].split("## ")[0]


# ------------------------------------------------------------------ gaps to the paper (docs page)

GAPPED = dataclasses.replace(
    FAKE, name="fake-gaps", paper_scale={"data": "ModelNet40", "backbone": "DGCNN", "epochs": 500, "points": 1024},
    cause_notes={"epochs": "too few epochs to converge", "width": "never shown: width is not in the report"})


def hand_report(quick=True, data="builtin", lines=()) -> dict:
    return {"reproduction": GAPPED.name, "settings": {"data": data, "seeds": 3, "quick": quick, "model": "",
                                                      "params": {}},
            "scale": {"epochs": 4, "points": 1024, "model": "pointnet", "a": [1, 2]}, "table": list(lines)}


def line(mean, sd, paper_value, text=None, n=3):
    return {"row": "r", "column": "c", "mean": mean, "sd": sd, "n": n,
            "paper": {"text": text or str(paper_value), "value": paper_value, "where": "Table 0"}}


@pytest.mark.parametrize("ln, words", [
    (line(0.086, 0.001, 0.081), "r, c: ours 0.086 ± 1.0e-03 vs paper 0.081 (+6 %); higher."),   # 0.005/0.081
    (line(60.0, 1.0, 80.0), "(-25 %); lower."),
    (line(0.086, 0.010, 0.081), "matches within one sd."),                                     # |0.005| <= 0.010
    (line(-0.5, 0.01, -0.001), "lower, 500 times the paper's in size."),
    (line(10.0, None, 20.0, "20", n=1), "ours 10.0 vs paper 20 (-50 %); lower."),                   # one seed: no sd
    (line(None, None, None, text="drops to chance", n=0), "only as a plot / in words: drops to chance."),
])
def test_gap_sentence_states_direction_and_size(ln, words):
    from engine.reproduce.gaps import gap_sentence

    assert words in gap_sentence(ln)


def test_gap_sentence_is_silent_where_the_paper_has_no_line():
    from engine.reproduce.gaps import gap_sentence

    assert gap_sentence({"row": "r", "column": "c", "mean": 1.0, "sd": 0.1, "n": 3, "paper": None}) is None


def test_causes_list_data_backbone_scale_and_seeds_from_the_report():
    from engine.reproduce.gaps import causes

    text = "\n".join(causes(GAPPED, hand_report()))
    assert "data: ours is the built-in set" in text and "the paper's is ModelNet40" in text
    assert "backbone: ours is pointnet; the paper's is DGCNN." in text
    assert "epochs: ours 4 (quick scale) vs the paper's 500." in text
    assert "points:" not in text                        # 1024 on both sides: no difference to state
    assert "seeds: ours 3" in text
    assert "Known cause — epochs: too few epochs to converge" in text and "width" not in text
    assert "ours only: a=1, 2." in text


def test_causes_do_not_flag_the_papers_own_dataset():
    from engine.reproduce.gaps import causes

    repro = dataclasses.replace(GAPPED, paper_scale={"data": "ModelNet10"})
    assert not any(c.startswith("data:") for c in causes(repro, hand_report(data="/d/ModelNet10")))
    assert any(c.startswith("data:") for c in causes(repro, hand_report(data="builtin")))


def test_missing_runs_name_each_data_and_scale_with_its_command():
    from engine.reproduce.gaps import missing_runs

    have = [hand_report(quick=True, data="builtin"), hand_report(quick=False, data="/home/me/modelnet10")]
    missing = missing_runs(GAPPED, have)
    assert [(d, s) for d, s, _ in missing] == [("builtin", "full"), ("modelnet10", "quick")]
    assert missing[0][2] == "pointlens reproduce fake-gaps --data builtin --seeds 3 --out reproductions/fake-gaps-builtin-full"
    assert missing[1][2] == ("pointlens reproduce fake-gaps --data PATH/TO/modelnet10 --seeds 3 --quick "
                             "--out reproductions/fake-gaps-modelnet10-quick")


def test_flowam_on_modelnet10_is_listed_with_a_model():
    from engine.reproduce.gaps import missing_runs

    cmds = [cmd for d, _, cmd in missing_runs(registry.get("flowam-table1"), []) if d == "modelnet10"]
    assert len(cmds) == 2 and all("--model " in c for c in cmds)


def test_docs_page_states_gaps_causes_and_what_is_not_yet_run(fake, tmp_path):
    from engine.reproduce.docs_page import main as docs_main

    finish(run(fake, Settings(seeds=2, quick=True), tmp_path / "reports" / "fake-quick"))
    page = tmp_path / "reproductions.md"
    assert docs_main(["--reports", str(tmp_path / "reports"), "--out", str(page)]) == 0
    text = page.read_text()
    part = text.split("## fake-test")[1].split("\n## ")[0]
    # a=1, x: cells 10 and 11 -> 10.5 ± 0.707 against the paper's 11: within one sd
    assert "a=1, x: ours 10.5 ± 0.707 vs paper 11; matches within one sd." in part
    assert "a=9, x: not measured in this report (paper 90)." in part
    assert "seeds: ours 2" in part
    missing = text.split("## Not yet run")[1].split("**fake-test**")[1].split("**")[0]
    assert "builtin, full scale: `pointlens reproduce fake-test --data builtin --seeds 3 --out" in missing
    assert "builtin, quick scale" not in missing and "modelnet10, quick scale" in missing


@pytest.mark.parametrize("name", registry.names())
def test_every_reproduction_declares_what_the_paper_ran(name):
    repro = registry.get(name)
    assert repro.paper_scale and "data" in repro.paper_scale and "backbone" in repro.paper_scale


def test_the_docs_page_names_a_reports_data_without_its_local_path():
    from engine.reproduce.docs_page import without_local_paths

    found = {"x": [{"settings": {"data": "../elsewhere/data/modelnet10_hdf5_1024/",
                                 "model": "/work/runs/parae-mn10.safetensors"}},
                   {"settings": {"data": "builtin", "model": "demo:parae"}}]}
    text = ("### ../elsewhere/data/modelnet10_hdf5_1024/, quick\n`--data ../elsewhere/data/modelnet10_hdf5_1024/ "
            "--model /work/runs/parae-mn10.safetensors` on builtin with demo:parae")
    out = without_local_paths(text, found)
    assert "elsewhere" not in out and out.count("PATH/TO/modelnet10_hdf5_1024") == 2 and "on builtin" in out
    assert "--model PATH/TO/parae-mn10.safetensors" in out and "with demo:parae" in out
