#!/usr/bin/env bash
# Set up everything `make run` and `make test` need on a fresh machine:
# Debian packages (as root; otherwise print the command), .venv, torch (CPU or CUDA build) first,
# the project with the tested versions (packaging/constraints.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv

SYS_PKGS="xvfb xauth libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libegl1 libgl1
 libglx-mesa0 libgl1-mesa-dri libosmesa6 libfontconfig1 libdbus-1-3 libtcmalloc-minimal4"

if command -v dpkg-query >/dev/null 2>&1; then
  missing=""
  for p in $SYS_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "bootstrap: installing system packages:$missing"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
      echo "bootstrap: missing system packages. Run:"
      echo "  sudo apt-get install -y$missing"
    fi
  fi
else
  echo "bootstrap: not a Debian/Ubuntu system; install Xvfb and Qt's xcb libraries (libxcb-cursor0 ...) yourself."
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
# PyTorch: keep an installed torch (unless TORCH_BUILD asks for the other build); otherwise the
# build packaging/torch_build.sh picks: CUDA (PyPI's default) where nvidia-smi answers, else the
# CPU build from PyTorch's CPU index (the registry's default on Linux is the multi-GB CUDA build).
TORCH_SPEC="torch==2.13.*"
CPU_INDEX=https://download.pytorch.org/whl/cpu
installed=$("$VENV/bin/python" -c "import torch; print(torch.__version__, 'cuda' if torch.version.cuda else 'cpu')" 2>/dev/null || true)
if [ -n "$installed" ] && { [ -z "${TORCH_BUILD:-}" ] || [ "${installed##* }" = "$TORCH_BUILD" ]; }; then
  echo "bootstrap: torch ${installed% *} (${installed##* } build) is installed: kept"
else
  # torch_build.sh prints the build, then why (stderr): both arrive here, in that order.
  choice=$(bash packaging/torch_build.sh 2>&1) || { echo "bootstrap: $choice" >&2; exit 2; }
  build=${choice%%$'\n'*}
  reason=${choice#*$'\n'}
  if [ -n "$installed" ]; then
    echo "bootstrap: removing torch ${installed% *} (${installed##* } build): TORCH_BUILD=$TORCH_BUILD"
    "$VENV/bin/pip" uninstall -q -y torch
  fi
  echo "bootstrap: installing the $build build of $TORCH_SPEC ($reason)"
  if [ "$build" = cuda ] || [ "$(uname -s)" = Darwin ]; then
    "$VENV/bin/pip" install -q "$TORCH_SPEC"
  elif ! "$VENV/bin/pip" install -q --retries 2 --timeout 30 --index-url "$CPU_INDEX" "$TORCH_SPEC"; then
    echo "bootstrap: PyTorch's CPU index ($CPU_INDEX) could not be used; installing torch from the"
    echo "  plain registry instead (on Linux that may be the larger CUDA build)"
    "$VENV/bin/pip" install -q "$TORCH_SPEC"
  fi
fi
# The project, with the versions it was tested with (packaging/constraints.txt, `make upgrade-deps`).
# Where those cannot be installed (another Python or platform), the newest that pyproject.toml allows.
if ! "$VENV/bin/pip" install -q -e ".[dev]" -c packaging/constraints.txt; then
  echo "bootstrap: the tested versions (packaging/constraints.txt) could not be installed here;"
  echo "  installing the newest versions pyproject.toml allows instead"
  "$VENV/bin/pip" install -q -e ".[dev]"
fi
