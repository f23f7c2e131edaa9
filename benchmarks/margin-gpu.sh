#!/usr/bin/env bash
# Margin search on a lent GPU (one device call): candidate deltas of the
# references (benchmarks/variants.py) on seeds 1-10, many runs at once, one
# CPU thread each, longest first so the tail is short. Results land in $OUT
# (margin-round2-h200.json[l]/md). MNIST comes along as .carry/data (gzip
# copies), torch is the machine's.
#   round 1 (Nov 2026): the references, i3-ep20, label smoothing, i0 lr
#   round 2: less dropout, and each step's epoch cap probed
set -u
export TINYCNN_DATA=$PWD/.carry/data PYTHONPATH=$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-benchmarks/results}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch, platform; print(torch.__version__, platform.processor(), torch.backends.cpu.get_cpu_capability())"
grep -m1 "model name" /proc/cpuinfo
# smoke: one short graded training on CUDA, or stop here
python3 - <<'PY' || exit 3
from pathlib import Path
import torch
from tinycnn.grader.trainer import ROOT, train_step
rec = train_step(ROOT / "solutions/i0", torch.device("cuda"), seed=1,
                 out=Path("/tmp/smoke"), progress=False)
print("smoke i0 on cuda:", rec["final_test_acc"], rec["wall_s"], "s")
PY
# 16 runs on 16 cores: 12 for the 10-seed candidates, 4 for i4 at 20 epochs
timeout ${MAIN_S:-500} python3 benchmarks/seeds.py --device cuda --jobs 12 \
  --threads 1 --seeds $(seq 1 10) --out $OUT/margin-round2-h200.json \
  --steps i3-ep20-p02 i2-p02 i2-ep15 i1-p02 i1-p02-shift i1-ep15 &
timeout ${MAIN_S:-500} python3 benchmarks/seeds.py --device cuda --jobs 4 \
  --threads 1 --seeds $(seq 1 8) --out $OUT/margin-round2-i4-h200.json \
  --steps i4-ep20 > $OUT/i4.log 2>&1
wait
tail -12 $OUT/i4.log
