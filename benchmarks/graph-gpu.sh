#!/usr/bin/env bash
# Issue 30 on a lent GPU, in one device call: the captured training step
# (tinycnn/train/graphed.py) checked, timed against the eager one, graded, and
# trained on ten seeds per reference. Results land in $OUT (default
# benchmarks/results): graph-gpu.log, train_speed-cuda.json, grade-i3.log,
# graph-seeds-cuda.json[l]/md. MNIST comes along as .carry/data (gzip
# copies), torch is the machine's:
#   bash benchmarks/graph-gpu.sh prepare     (here: writes .carry/data)
#   then, on the device, this script with carry [".carry"].
# Each part has its own time limit, so a slow part leaves the others time.
set -u
if [ "${1:-}" = prepare ]; then
  raw=$(python3 -c "from tinycnn.train.data import ensure_mnist; print(ensure_mnist())") || exit 1
  mkdir -p .carry/data/MNIST/raw
  for f in "$raw"/*-ubyte "$raw"/*-ubyte.gz; do
    [ -f "$f" ] || continue
    case "$f" in
      *.gz) cp "$f" .carry/data/MNIST/raw/ ;;
      *) gzip -c "$f" > ".carry/data/MNIST/raw/$(basename "$f").gz" ;;
    esac
  done
  ls -l .carry/data/MNIST/raw
  exit 0
fi
export TINYCNN_DATA=$PWD/.carry/data PYTHONPATH=$PWD PYTHONUNBUFFERED=1
# the graph path is off by default until these runs are in
export TINYCNN_GRAPH=1
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
exec > >(tee "$OUT/graph-gpu.log") 2>&1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch, platform; print(torch.__version__, platform.processor(), torch.backends.cpu.get_cpu_capability())"
grep -m1 "model name" /proc/cpuinfo
python3 -m pip install -q pytest 2>/dev/null | tail -1
echo "== 1. the step's tests, the real capture included (a minute)"
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_graphed.py || exit 3
echo "== 2. eager vs graph, the references as a grade trains them"
timeout 240 python3 benchmarks/train_speed.py --device cuda --batches 50 \
  --steps i0 i1 i2 i3 i4 --graph --graph-epochs 3 \
  --json "$OUT/train_speed-cuda.json" | grep -v '^{'
echo "== 3. i3 graded as a learner grades it (target: <= 40 s wall)"
/usr/bin/time -f "grade i3: %e s wall" timeout 120 python3 -m pytest \
  -p no:cacheprovider checks/i3 --impl=solutions --retrain 2>&1 \
  | tee "$OUT/grade-i3.log" | tail -15
echo "== 4. ten seeds of each reference on the graph path"
timeout "${SEEDS_S:-300}" python3 benchmarks/seeds.py --device cuda --jobs 10 \
  --threads 1 --seeds $(seq 1 10) --out "$OUT/graph-seeds-cuda.json" \
  --steps solutions/i3 solutions/i4 solutions/i2 solutions/i1 solutions/i0 \
  | tail -12
