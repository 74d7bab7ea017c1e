#!/usr/bin/env bash
# Which PyTorch build this machine should get: prints "cpu" or "cuda" on stdout and why on stderr.
#   TORCH_BUILD=cpu|cuda   the user's choice, taken as is
#   nvidia-smi answers     (exit 0: an NVIDIA driver sees a GPU) -> cuda, PyPI's default build
#   otherwise              -> cpu, from PyTorch's CPU wheel index (no multi-GB CUDA libraries)
# packaging/bootstrap.sh calls it only when no torch is installed yet (an installed one is kept).
# Exit 2 on a TORCH_BUILD it does not know. Tested by tests/engine/test_install.py.
set -u

case "${TORCH_BUILD:-}" in
  cpu|cuda)
    echo "$TORCH_BUILD"
    echo "TORCH_BUILD=$TORCH_BUILD was set" >&2
    exit 0 ;;
  "") ;;
  *)
    echo "torch_build: TORCH_BUILD='$TORCH_BUILD' is not cpu or cuda" >&2
    exit 2 ;;
esac

if [ "$(uname -s)" = Darwin ]; then
  echo cpu
  echo "macOS: PyPI's torch is the CPU/MPS build" >&2
  exit 0
fi

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo cpu
  echo "no nvidia-smi on PATH (no NVIDIA driver)" >&2
  exit 0
fi

# A hung driver must not hang the install: give nvidia-smi 30 s where `timeout` exists.
runner=""
command -v timeout >/dev/null 2>&1 && runner="timeout 30"
$runner nvidia-smi >/dev/null 2>&1
rc=$?
if [ "$rc" = 0 ]; then
  echo cuda
  echo "nvidia-smi answered: an NVIDIA GPU and driver are present" >&2
else
  echo cpu
  echo "nvidia-smi is installed but failed (exit $rc): no usable NVIDIA GPU" >&2
fi
