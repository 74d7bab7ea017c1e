#!/usr/bin/env bash
# Set up everything `make run` and `make test` need on a fresh machine:
# Debian packages (as root; otherwise print the command), .venv, torch (CPU) first, the project.
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
# Keep an installed torch; otherwise the CPU build first, so the project does not pull CUDA wheels.
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  "$VENV/bin/pip" install -q "torch==2.13.*"
fi
"$VENV/bin/pip" install -q -e ".[dev]"
