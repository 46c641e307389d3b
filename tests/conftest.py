"""Shared test set-up: quiet TensorFlow, paths to the real clips in tests/data."""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

DATA_DIR = pathlib.Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> pathlib.Path:
    """Folder of the real video clips (see tests/data/PROVENANCE.md)."""
    return DATA_DIR
