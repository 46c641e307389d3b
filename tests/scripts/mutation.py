"""Mutation testing of the method's formulas with mutmut 2 (a dev tool, not a dependency).

    .venv/bin/pip install "mutmut==2.5.1" whatthepatch
    .venv/bin/python tests/scripts/mutation.py [TARGET ...]      # default: every target

Each target mutates one file (only the listed functions / assignments when
given, and of those only the lines matching a pattern when given) and runs
only that file's tests. mutmut 2 edits the file in place, so everything runs
in a copy of the work tree (``--work``, default /tmp/tsn-mutation/TARGET)
where ``tsn_tf/input``, ``tsn_tf/trainers`` and ``tsn_tf/export`` are
symlinks to the copy's folders and the copy comes first on PYTHONPATH: the
copy is imported, not the editable install (setup.py maps input/ to
tsn_tf.input, which mutmut alone does not follow). Prints mutants, killed
and survived per target, and the diff of every survivor. Do not run
``mutmut results`` in a work folder while its run goes on: it rewrites the
cache's copy of the (then mutated) file and mutmut 2.5.1 stops with
"Attribute Mutant.line is required".

Speed: importing TensorFlow costs more than most tests, so mutmut's runner
asks a server (this script, ``--serve``) that imported TensorFlow, Keras and
pytest once and forks a fresh child per mutant; the child imports the
project from disk (the mutated file) and runs pytest. No TF op runs before
the fork, which keeps forking safe.
"""
import argparse
import ast
import difflib
import json
import os
import pathlib
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAPPED = {"input": "input", "trainers": "trainers", "export": "export", "convert": "convert",
          "synthetic": "synthetic"}

# name: (file, functions or assignments (None: all), line pattern (None: all), tests)
TARGETS = {
    "consensus": ("tsn_tf/consensus.py", None, None, ["tests/test_consensus.py"]),
    "temporal_integration": ("tsn_tf/temporal_integration.py", None, None,
                             ["tests/test_temporal_integration.py"]),
    "cross_modality": ("tsn_tf/cross_modality.py", None, None, ["tests/test_cross_modality.py"]),
    "optim_policy": ("tsn_tf/optim_policy.py", None, None, ["tests/test_optim_policy.py"]),
    "sampling": ("input/pipeline/sampling.py", ["train_offsets", "eval_offsets",
                                                "untrimmed_offsets", "snippet_indices"], None,
                 ["tests/test_sampling.py"]),
    "crops": ("input/pipeline/crops.py", ["RGB_SCALES", "MOTION_SCALES", "MAX_DISTORT", "SNAP_PIXELS",
                                 "FIXED_OFFSET_STEPS", "scale_pairs", "crop_sizes",
                                 "multiscale_crop_box", "eval_views"], None,
              ["tests/test_crops.py"]),
    "modalities": ("input/pipeline/modalities.py", ["STREAMS", "flip_snippets", "normalization",
                                           "normalize"], None, ["tests/test_modalities.py"]),
    "train_clips": ("input/pipeline/train_clips.py", ["train_items", "finish_clip"],
                    r"flip|invert|normaliz|mean|std",
                    ["tests/test_train_flip.py", "tests/test_train_clips.py"]),
    "deferred": ("tsn_tf/ops/deferred.py", ["_crop_boxes", "finish_deferred"],
                 r"flip|invert|normaliz|mean|std",
                 ["tests/test_train_flip.py", "tests/test_train_clips.py"]),
    "eval_views": ("input/pipeline/eval_views.py", ["eval_views"],
                   r"flip|invert|normaliz|mean|std", ["tests/test_pipeline.py"]),
}


def _selected_lines(path: pathlib.Path, names, pattern):
    """1-based line numbers of the named top-level definitions (all lines if None)."""
    source = path.read_text()
    lines = source.splitlines()
    if names is None:
        chosen = set(range(1, len(lines) + 1))
    else:
        chosen = set()
        for node in ast.parse(source).body:
            targets = ([node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef))
                       else [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)])
            if set(targets) & set(names):
                chosen.update(range(node.lineno, node.end_lineno + 1))
    if pattern is not None:
        chosen = {n for n in chosen if re.search(pattern, lines[n - 1])}
    return sorted(chosen)


def _patch(relative: str, text: str, chosen) -> str:
    """A unified diff in which exactly the `chosen` lines of `relative` are added."""
    lines, chosen = text.splitlines(keepends=True), set(chosen)
    before = [line for number, line in enumerate(lines, 1) if number not in chosen]
    return "".join(difflib.unified_diff(before, lines, relative, relative, n=0))


def _prepare(work: pathlib.Path):
    if work.exists():
        shutil.rmtree(work)
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
    for package, folder in MAPPED.items():
        (work / "tsn_tf" / package).symlink_to(pathlib.Path("..") / folder)


def serve(address: str, work: str, timeout: float):
    """Answers each connection (JSON list of pytest args) with pytest's exit code,
    run in a forked child in `work`."""
    import cv2, keras, numpy, pytest, tensorflow  # noqa: F401,E401  imported once, before forks
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    server.listen(1)
    while True:
        connection, _ = server.accept()
        with connection:
            args = json.loads(connection.makefile().readline())
            child = os.fork()
            if child == 0:
                os.chdir(work)
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                os._exit(int(pytest.main(args)))
            deadline = time.monotonic() + timeout
            while (done := os.waitpid(child, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            if done[0] == 0:
                os.kill(child, 9)
                done = os.waitpid(child, 0)
            connection.sendall(f"{os.waitstatus_to_exitcode(done[1])}\n".encode())


def ask(address: str, args) -> int:
    """mutmut's runner: pytest's exit code for `args` from the server."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(address)
    client.sendall((json.dumps(args) + "\n").encode())
    return int(client.makefile().readline() or 1)


def run_target(name: str, work: pathlib.Path) -> dict:
    relative, names, pattern, tests = TARGETS[name]
    _prepare(work)
    chosen = _selected_lines(work / relative, names, pattern)
    (work / "mutation.patch").write_text(_patch(relative, (work / relative).read_text(), chosen))
    env = dict(os.environ, PYTHONPATH=str(work), PYTHONDONTWRITEBYTECODE="1",
               TF_CPP_MIN_LOG_LEVEL="2")
    address = str(work / "server.sock")
    server = subprocess.Popen([sys.executable, __file__, "--serve", address, "--work", str(work)],
                              env=env, stdout=subprocess.DEVNULL)
    while not os.path.exists(address):
        time.sleep(0.2)
    runner = shlex.join([sys.executable, __file__, "--ask", address, "-x", "-q",
                         "-p", "no:cacheprovider", "-m", "not slow"] + tests)
    mutmut = [sys.executable, "-m", "mutmut"]
    try:
        subprocess.run(mutmut + ["run", "--paths-to-mutate", relative, "--runner", runner,
                                 "--tests-dir", "tests", "--use-patch-file", "mutation.patch",
                                 "--no-progress", "--simple-output"], cwd=work, env=env)
    finally:
        server.kill()
        server.wait()
    counts = {}
    for status in ("killed", "survived", "timeout", "suspicious", "untested", "skipped"):
        output = subprocess.run(mutmut + ["result-ids", status], cwd=work, env=env,
                                capture_output=True, text=True).stdout.split()
        counts[status] = [int(i) for i in output if i.isdigit()]
    print(f"== {name}: {relative}, {len(chosen)} lines, tests {' '.join(tests)}")
    print("   " + ", ".join(f"{status} {len(ids)}" for status, ids in counts.items()),
          f"(mutants {sum(map(len, counts.values()))})")
    # "suspicious" mutants were killed, but their tests ran over twice the baseline
    for mutant in counts["survived"]:
        show = subprocess.run(mutmut + ["show", str(mutant)], cwd=work, env=env,
                              capture_output=True, text=True).stdout
        print(f"-- survivor {mutant}\n{show}")
    return counts


def recheck(name: str, work: pathlib.Path) -> dict:
    """Runs the current tests on each mutant that survived the last run of `name`
    in `work` (after tests were added): {mutant id: killed}."""
    relative, _, _, tests = TARGETS[name]
    env = dict(os.environ, PYTHONPATH=str(work), PYTHONDONTWRITEBYTECODE="1",
               TF_CPP_MIN_LOG_LEVEL="2")
    mutmut = [sys.executable, "-m", "mutmut"]
    survivors = subprocess.run(mutmut + ["result-ids", "survived"], cwd=work, env=env,
                               capture_output=True, text=True).stdout.split()
    shutil.copytree(ROOT / "tests", work / "tests", dirs_exist_ok=True)
    original = (ROOT / relative).read_text()
    killed = {}
    try:
        for mutant in filter(str.isdigit, survivors):
            (work / relative).write_text(original)
            subprocess.run(mutmut + ["apply", mutant], cwd=work, env=env, check=True,
                           capture_output=True)
            result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p",
                                     "no:cacheprovider", "-m", "not slow"] + tests,
                                    cwd=work, env=env, capture_output=True)
            killed[int(mutant)] = result.returncode != 0
    finally:
        (work / relative).write_text(original)
    print(f"== {name} recheck: {sum(killed.values())} of {len(killed)} survivors now killed; "
          f"still surviving: {sorted(m for m, k in killed.items() if not k)}")
    return killed


def main():
    if sys.argv[1:2] == ["--ask"]:
        sys.exit(ask(sys.argv[2], sys.argv[3:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"some of {sorted(TARGETS)} (default: all)")
    parser.add_argument("--work", default="/tmp/tsn-mutation", help="scratch folder")
    parser.add_argument("--serve", metavar="SOCKET", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    parser.add_argument("--recheck", action="store_true",
                        help="only rerun the survivors of the last run with the current tests")
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.work, args.timeout)
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {sorted(TARGETS)}")
    for name in args.targets or sorted(TARGETS):
        (recheck if args.recheck else run_target)(name, pathlib.Path(args.work) / name)


if __name__ == "__main__":
    main()
