#!/usr/bin/env bash
# Gradescope autograder image setup. Zip this repository (with this folder)
# as the autograder; Gradescope runs this once when it builds the image.
set -euo pipefail
cd /autograder/source
apt-get update -q && apt-get install -y -q python3 python3-venv make util-linux
make setup          # venv, PyTorch (CPU build on Gradescope), MNIST
