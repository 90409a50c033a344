"""The rotation functions' deployment packages: what a zip carries, and that
its handler and its bundled driver load from the zip alone."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from strongroom.functions import POSTGRES_STRATEGIES, rotation_zip


@pytest.mark.parametrize("strategy", sorted(POSTGRES_STRATEGIES))
def test_package_loads_its_own_driver(strategy: str, tmp_path: Path) -> None:
    package = rotation_zip(strategy)
    assert len(package) < 50 * 1024 * 1024  # Lambda's direct-upload limit
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path)
    assert "lambda_function.py" in names and "rotation.py" in names
    assert any(n.startswith("psycopg_binary/") for n in names)
    # As the runtime does: the task root first on the path, then the
    # interpreter's own packages (boto3 comes with the runtime).
    probe = (
        "import sys; sys.path.insert(0, '.');"
        "import lambda_function, psycopg;"
        "print(psycopg.__file__); print(psycopg.pq.__impl__);"
        "print(callable(lambda_function.lambda_handler))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0].startswith(str(tmp_path))
    assert out[1] == "binary"
    assert out[2] == "True"


def test_unknown_strategy_and_engine() -> None:
    with pytest.raises(ValueError, match="strategy must be one of"):
        rotation_zip("three-users")
    with pytest.raises(ValueError, match="only postgres"):
        rotation_zip("single-user", engine="mysql")


def test_alternating_user_names(tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(rotation_zip("alternating-users"))) as zf:
        zf.extractall(tmp_path)
    probe = (
        "import sys; sys.path.insert(0, '.'); from lambda_function import other_user as o;"
        "print(o('app'), o('app_clone'));"
        "\ntry:\n o('x' * 60)\nexcept ValueError as e: print('refused')"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["app_clone", "app", "refused"]
