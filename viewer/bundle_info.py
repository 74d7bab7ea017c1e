"""What an installer bundle says about itself (read by `pointlens --version` and Help > About)."""
from __future__ import annotations

import os
import sys


def bundle_lacks(root: str | None = None) -> str:
    """What a light installer bundle leaves out (its ``bundle-lacks.txt``, written by the build
    into the bundle's data folder), or "" when running from source or a full bundle."""
    folder = root if root is not None else getattr(sys, "_MEIPASS", None)
    if not folder:
        return ""
    try:
        with open(os.path.join(folder, "bundle-lacks.txt"), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""
