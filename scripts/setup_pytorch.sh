#!/usr/bin/env bash
# Creates a Python virtual environment with a CPU PyTorch, for the PyTorch peer under
# peers/pytorch/ (the lockstep parity check and PyTorch runs of an experiment).
#
#   scripts/setup_pytorch.sh VENV_DIR          Debian's CPU build (python3-torch 1.13), ~150 MB
#   scripts/setup_pytorch.sh --pypi VENV_DIR   PyPI's torch wheel (2.15), 5.3 GB installed
#
# The default is what CI installs on every push. PyPI's Linux wheel of torch is a CUDA build:
# it does not import without its NVIDIA libraries (cuBLAS, cuDNN, ... several GB; measured
# here: `pip install --no-deps torch` fails at import with "libcublasLt.so.*[0-9] not found"),
# so the cheap CPU-only route is the distribution's package, seen from a venv through
# --system-site-packages. Use --pypi for timing comparisons against the PyTorch most users run.
# Both print the version they installed; re-running on an existing VENV_DIR reuses it.
set -euo pipefail

source=debian
if [[ "${1:-}" == "--pypi" ]]; then
    source=pypi
    shift
fi
venv=${1:?usage: scripts/setup_pytorch.sh [--pypi] VENV_DIR}
# The PyPI wheel pinned for --pypi; the Debian package is pinned by the release (bookworm: 1.13.1).
# numpy only silences torch's warning that it is missing; nothing here needs it.
pypi_torch_version=2.15.0
pypi_numpy_version=2.4.6

check='import torch; assert float(torch.ones(2, dtype=torch.float64) @ torch.ones(2, dtype=torch.float64)) == 2.0; print("torch", torch.__version__)'

started=$(date +%s)
case "$source" in
debian)
    if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends python3-torch python3-venv >/dev/null
    fi
    [[ -x "$venv/bin/python" ]] || /usr/bin/python3 -m venv --system-site-packages "$venv"
    ;;
pypi)
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet "torch==$pypi_torch_version" "numpy==$pypi_numpy_version"
    ;;
esac
"$venv/bin/python" -c "$check"
echo "PyTorch ($source) ready in $venv after $(( $(date +%s) - started )) s"
