"""File > Open checkpoint…: a DGCNN saved by the public code (``model.t7``, DataParallel keys)
opens by its keys alone, takes the open dataset's class names when its head has as many outputs,
and a file whose keys name no model opens the dialog, where naming the model loads it."""
from __future__ import annotations

import pytest

from tests.viewer.conftest import BUILTIN_CLASSES, panel_named

pytestmark = pytest.mark.gui


def _dgcnn_state(num_classes=10, seed=0):
    import torch

    import engine.models.zoo  # noqa: F401 - registers the models
    from engine.models.base import build_model

    torch.manual_seed(seed)
    model = build_model("dgcnn", num_classes=num_classes, width=0.125, k=8, emb_dims=64).eval()
    return model, model.state_dict()


@pytest.fixture(scope="module")
def dgcnn_t7(tmp_path_factory):
    """A DGCNN as WangYueFt/dgcnn's training script saves it: torch.save of a DataParallel model's
    state_dict, every key prefixed ``module.``, no class names."""
    import torch

    _, state = _dgcnn_state()
    path = tmp_path_factory.mktemp("t7") / "model.t7"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)
    return str(path)


@pytest.fixture(scope="module")
def pointmask_pth(tmp_path_factory):
    """A tiny PointMask's bare state dict (torch.save, no metadata): no public layout has these
    keys, so the file alone cannot say which model it is or how wide."""
    import torch

    import engine.models.zoo  # noqa: F401
    from engine.models.base import build_model

    torch.manual_seed(1)
    model = build_model("pointmask", num_classes=10, width=0.125).eval()
    path = tmp_path_factory.mktemp("odd") / "weights.pth"
    torch.save(model.state_dict(), path)
    return str(path)


def test_build_choice_keeps_a_plain_path_and_parses_the_rest(tmp_path):
    from engine import CheckpointChoice, ParameterError

    from viewer.checkpoint_dialog import build_choice

    assert build_choice(" a.pth ", None, "", "") == "a.pth"
    names = tmp_path / "names.txt"
    names.write_text("# ModelNet10\nbathtub\nbed\n\nchair\n")
    choice = build_choice("a.t7", "dgcnn", "k=40, emb_dims=512", str(names))
    assert isinstance(choice, CheckpointChoice)
    assert choice.model == "dgcnn" and dict(choice.model_options) == {"k": 40, "emb_dims": 512}
    assert choice.classes == ("bathtub", "bed", "chair")
    assert build_choice("a.pth", None, "", "x, y").classes == ("x", "y")
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        build_choice("a.pth", None, "k40", "")
    with pytest.raises(ParameterError, match="twice"):
        build_choice("a.pth", None, "", "chair, chair")


def test_a_bad_field_is_named_in_the_dialog_which_stays_open(qapp):
    from viewer.checkpoint_dialog import CheckpointDialog

    dialog = CheckpointDialog(None, "model.t7")
    keys = [dialog.model.itemData(i) for i in range(dialog.model.count())]
    assert keys[0] is None and {"pointnet", "dgcnn", "pointnet2-ssg", "pointnet2-msg"} <= set(keys)
    dialog.options.setText("k=")          # an empty value is accepted as text; a bare word is not
    dialog.options.setText("emb_dims")
    dialog.show()
    dialog.accept()
    assert dialog.isVisible() and dialog.choice() is None
    assert "emb_dims" in dialog.problem.text() and not dialog.problem.isHidden()
    dialog.options.setText("k=8")
    dialog.set_model("dgcnn")
    dialog.accept()
    assert not dialog.isVisible() and dialog.choice().model == "dgcnn"
    dialog.deleteLater()


def test_a_dropped_dgcnn_t7_opens_by_its_keys_with_the_datasets_class_names(win, qtbot, dgcnn_t7):
    win.open_path(dgcnn_t7)                      # what dropping the file on the window does
    qtbot.waitUntil(lambda: win.session.checkpoint is not None and win.session.checkpoint.path == dgcnn_t7,
                    timeout=30000)
    ck = win.session.checkpoint
    assert ck.model == "dgcnn"
    assert list(ck.classes) == BUILTIN_CLASSES       # 10 outputs, 10 dataset classes: their names
    assert any("class names from" in line for line in ck.report)
    panel = panel_named(win, "inspect")
    panel.result = None
    win.session.show_sample(win.session.sample)          # Inspect runs again with the DGCNN
    qtbot.waitUntil(lambda: panel.result is not None and panel.model_label.text().startswith("Model: dgcnn"),
                    timeout=60000)
    predicted = panel.result.metrics.get("predicted_name") or panel.result.metrics.get("predicted_class")
    assert predicted in BUILTIN_CLASSES                   # the job carried the names, not "class 3"


def test_a_file_that_names_no_model_opens_the_dialog_and_loads_once_named(win, qtbot, pointmask_pth):
    from engine import CheckpointError, load_checkpoint
    from viewer.session import UNRECOGNISED

    with pytest.raises(CheckpointError) as e:            # the words the GUI listens for
        load_checkpoint(pointmask_pth)
    assert UNRECOGNISED in e.value.message

    win.checkpoint_dialog = None
    win.open_path(pointmask_pth)
    qtbot.waitUntil(lambda: getattr(win, "checkpoint_dialog", None) is not None, timeout=30000)
    dialog = win.checkpoint_dialog
    assert dialog.isVisible() and dialog.path.text() == pointmask_pth
    assert UNRECOGNISED in dialog.problem.text()
    dialog.set_model("pointmask")
    dialog.options.setText("width=0.125, num_classes=10")
    dialog.accept()
    qtbot.waitUntil(lambda: win.session.checkpoint is not None and win.session.checkpoint.path == pointmask_pth,
                    timeout=30000)
    assert win.session.checkpoint.model == "pointmask"
