"""tsn-demo prints the table the README shows (its steps run without oneDNN kernels)."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
TABLE_ROW = re.compile(r"^\| (rgb|flow|rgb \+ flow) \| .*\|$", re.M)


@pytest.mark.slow
def test_demo_prints_the_readme_table(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run([sys.executable, "-m", "tsn_tf.trainers.demo",
                             f"--workdir={tmp_path}"], capture_output=True, text=True,
                            timeout=1200, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    readme_table = [m.group(0) for m in TABLE_ROW.finditer(README.read_text())][:3]  # the first
    assert [row.split(" | ")[0] for row in readme_table] == ["| rgb", "| flow", "| rgb + flow"]
    assert [m.group(0) for m in TABLE_ROW.finditer(result.stdout)] == readme_table
