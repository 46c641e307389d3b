"""Running the project's command-line tools as child processes (demo, experiments)."""
import shlex
import subprocess
import sys
import time

from tsn_tf.trainers import cli

# tsn-train settings for streams trained from scratch on the synthetic set
# (tsn-demo, experiments/; the same as configs/synthetic_demo.cfg): no
# pretrained BN statistics, so no partial BN, and milder dropout.
FROM_SCRATCH_FLAGS = ("--num_segments=3", "--batch_size=16", "--learning_rate=0.05",
                      "--lr_schedule=cosine", "--nopartial_bn", "--dropout=0.5")


def run(module, *args, capture=True):
    """Runs `python -m tsn_tf.<module> args`, echoing it; returns its last stdout line
    (capture=False: its output goes to the console as it comes, and "" is returned).

    A failed tool ends this process with one line naming it (the tool printed why).
    """
    command = [sys.executable, "-m", f"tsn_tf.{module}", *args]
    print(f"\n$ {shlex.join(command[2:])}", flush=True)
    started = time.time()
    # absl's --verbosity=-1: warnings and errors only (progress bars still show); the
    # tools keep TensorFlow's own log quiet unless --verbose (trainers/cli.py).
    verbose = ["--verbose"] if cli.VERBOSE else []
    result = subprocess.run([*command, "--verbosity=-1", *verbose],
                            stdout=subprocess.PIPE if capture else None, text=True)
    if result.returncode:
        sys.exit(f"{module} failed with exit status {result.returncode}")
    if not capture:
        return ""
    lines = result.stdout.strip().splitlines()
    print(f"  ({time.time() - started:.0f} s) {lines[-1] if lines else ''}", flush=True)
    return lines[-1] if lines else ""
