import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def grade(impl: Path, step: str, results: Path, *args: str):
    """Run the real grader in a subprocess; return (results.json, output)."""
    import json

    cmd = [sys.executable, "-m", "pytest", f"checks/{step}", f"--impl={impl}",
           f"--results={results}", "-p", "no:cacheprovider", "-q", *args]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    data = json.loads(results.read_text())
    failed = {t["name"] for t in data["tests"] if t["status"] == "failed"}
    return data, failed, out.stdout + out.stderr
