"""Static checks that catch real mistakes (undefined names, unused imports, syntax)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff_finds_no_errors():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F,E9", "--exclude", "node_modules",
                          "--no-cache", ROOT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
