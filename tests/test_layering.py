"""The rooms of input/: ingestion and the pipeline meet only through the contract;
old import paths of moved modules still work, with a DeprecationWarning."""
import ast
import pathlib
import subprocess
import sys
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROOMS = ("contract", "ingestion", "pipeline")
# room -> rooms (and other tsn_tf packages) it must not import
FORBIDDEN = {
    "contract": ("tsn_tf.input.ingestion", "tsn_tf.input.pipeline", "tsn_tf.ops",
                 "tsn_tf.trainers", "tsn_tf.export"),
    "ingestion": ("tsn_tf.input.pipeline", "tsn_tf.export"),  # tsn_tf.ops: TF TV-L1
    "pipeline": ("tsn_tf.input.ingestion", "tsn_tf.export", "tsn_tf.trainers"),
}


def imported_modules(path: pathlib.Path):
    """Dotted names a file imports anywhere in it (module level or inside functions):
    `import a.b` gives a.b; `from a import b` gives a.b (b may be a module)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def violations(room: str):
    found = []
    for path in sorted((ROOT / "input" / room).rglob("*.py")):
        for name in imported_modules(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[room]):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


@pytest.mark.parametrize("room", ROOMS)
def test_rooms_meet_only_through_the_contract(room):
    assert not violations(room)


def test_the_import_reader_sees_function_level_and_from_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import os.path\nfrom tsn_tf.input import pipeline\n"
                      "def f():\n    from tsn_tf.input.ingestion import video as v\n")
    assert set(imported_modules(source)) == {
        "os.path", "tsn_tf.input", "tsn_tf.input.pipeline", "tsn_tf.input.ingestion",
        "tsn_tf.input.ingestion.video"}


def test_every_input_module_lives_in_a_room():
    loose = [p.name for p in (ROOT / "input").glob("*.py") if p.name != "__init__.py"]
    assert not loose


def test_no_module_of_input_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "input").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert not long


@pytest.mark.parametrize("old,new,name", [
    ("tsn_tf.input.layout", "tsn_tf.input.contract.layout", "read_videos"),
    ("tsn_tf.input.schema", "tsn_tf.input.contract.schema", "VideoRecord"),
    ("tsn_tf.input.synthetic", "tsn_tf.synthetic.videos", "make_synthetic_dataset"),
    ("tsn_tf.input.lists", "tsn_tf.input.ingestion.lists", "parse_ucf101"),
    ("tsn_tf.export.preprocess", "tsn_tf.ops.serving", "ViewSettings"),
    ("tsn_tf.input.audio", "tsn_tf.input.contract.log_mel", "log_mel"),
    ("tsn_tf.input.audio", "tsn_tf.input.ingestion.audio", "read_audio"),
])
def test_an_old_module_path_still_imports_with_a_warning(old, new, name):
    import importlib

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to .*{new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_an_old_name_of_the_pipeline_package_warns_and_resolves():
    from tsn_tf.input import pipeline
    from tsn_tf.ops import deferred

    with pytest.warns(DeprecationWarning, match="pipeline.finish_deferred moved to "
                                                "tsn_tf.ops.deferred.finish_deferred"):
        assert pipeline.finish_deferred is deferred.finish_deferred
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pipeline.make_dataset  # the pipeline's API, not moved: no warning
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        pipeline.nothing  # noqa: B018


def test_python_m_with_an_old_module_path_runs_the_moved_tool():
    result = subprocess.run([sys.executable, "-m", "tsn_tf.input.relayout_main", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tsn_tf.input.relayout_main moved to tsn_tf.input.ingestion.relayout_main" \
        in result.stderr
    assert "--output" in result.stdout + result.stderr
