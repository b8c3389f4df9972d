#!/usr/bin/env bash
# Installs Fashion-MNIST (Zalando Research, MIT licence) for `dataset = "fashion_mnist"`:
# Debian's package dataset-fashion-mnist puts its four IDX files (about 30 MB) in
# /usr/share/datasets/fashion-mnist/, where the loader looks by default.
#
#   scripts/setup_fashion_mnist.sh
#
# Does nothing when the files are there already. Runs apt-get as root, or through sudo.
set -euo pipefail

dir=/usr/share/datasets/fashion-mnist
if [[ -e $dir/train-images-idx3-ubyte.gz ]]; then
    echo "Fashion-MNIST is installed in $dir/"
    exit 0
fi
as_root=()
if [[ $(id -u) -ne 0 ]]; then
    as_root=(sudo)
fi
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y dataset-fashion-mnist
for file in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    test -s "$dir/$file" || { echo "$dir/$file is missing after installing dataset-fashion-mnist" >&2; exit 1; }
done
echo "Fashion-MNIST installed in $dir/"
