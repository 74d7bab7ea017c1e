"""Import, ahead of time, what the first job of a session would import.

Why: a module's import runs Python code that holds the GIL, so an import on the engine thread
stops the GUI thread for as long as it lasts. The worst is ``torch._dynamo``: every
``torch.optim`` optimiser's constructor imports it the first time (torch 2.x wraps it in
``_disable_dynamo``), measured at 1.2-3.3 s of GIL time on a headless worker thread on this 2-core
machine; in the window, the longest GUI gap of a session's first Flow AM run fell from 373 ms to
213-233 ms once this had run.
The viewer calls ``warm_up`` once on the engine thread, after the first model is ready, while
nothing else is running; a job submitted meanwhile waits behind it.
"""
from __future__ import annotations

import time


def _optimiser() -> None:
    import torch

    # The optimiser's first construction is what imports torch._dynamo (and what a job would do).
    torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)


def _methods() -> None:
    from engine.catalog import load

    load()


def _scipy() -> None:
    import scipy.linalg  # noqa: F401 - FID's sqrtm
    import scipy.optimize  # noqa: F401 - Hungarian matching (class-average clouds, EMD)


STEPS = (("optimiser (torch._dynamo)", _optimiser), ("method modules", _methods), ("scipy", _scipy))


def warm_up() -> dict[str, float]:
    """Run every warm-up step; {step: seconds}. A second call costs next to nothing."""
    took = {}
    for name, step in STEPS:
        t = time.perf_counter()
        step()
        took[name] = time.perf_counter() - t
    return took
