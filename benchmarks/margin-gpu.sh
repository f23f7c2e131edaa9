#!/usr/bin/env bash
# Margin search on a lent GPU (one device call): the references and their
# candidate deltas (benchmarks/variants.py) on several seeds, many runs at
# once, one CPU thread each. Results land in $OUT (margin-*.json[l]/md).
# MNIST comes along as .carry/data (gzip copies), torch is the machine's.
set -u
export TINYCNN_DATA=$PWD/.carry/data PYTHONPATH=$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-benchmarks/results}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch, platform; print(torch.__version__, platform.processor(), torch.backends.cpu.get_cpu_capability())"
grep -m1 "model name" /proc/cpuinfo; grep -o -m1 "amx_bf16" /proc/cpuinfo
# smoke: one short graded training on CUDA, or stop here
python3 - <<'PY' || exit 3
from pathlib import Path
import torch
from tinycnn.step import ROOT, train_step
rec = train_step(ROOT / "solutions/i0", torch.device("cuda"), seed=1,
                 out=Path("/tmp/smoke"), progress=False)
print("smoke i0 on cuda:", rec["final_test_acc"], rec["wall_s"], "s")
PY
# i0 is cheap: 20 seeds, two runs at once, beside the long ones
timeout ${I0_S:-420} python3 benchmarks/seeds.py --device cuda --jobs 2 --threads 1 \
  --steps solutions/i0 i0-lr03 i0-onecycle --seeds $(seq 1 20) \
  --out $OUT/margin-i0-h200.json > $OUT/i0.log 2>&1 &
timeout ${MAIN_S:-450} python3 benchmarks/seeds.py --device cuda --jobs 13 --threads 1 \
  --steps i3-ep20 solutions/i3 i3-ls solutions/i4 i4-ls \
          solutions/i2 i2-ls solutions/i1 i1-ls i1-ls-shift \
  --seeds 1 2 3 4 5 6 --out $OUT/margin-h200.json
wait
tail -5 $OUT/i0.log
