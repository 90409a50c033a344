"""Lambda functions strongroom ships, and the zips that deploy them.

These modules run inside Lambda execution environments, not in the server:
they import nothing of strongroom and talk to it only as any function does,
with boto3 and the credentials of their execution role. `rotation_zip`
builds a deployment package the way one is built for AWS, with the database
driver bundled (boto3 comes with the runtime, as on AWS).
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Rotation strategies for PostgreSQL: the module that becomes lambda_function.py.
POSTGRES_STRATEGIES = {
    "single-user": "single_user.py",
    "alternating-users": "alternating_users.py",
}

#: The driver and what it needs at run time, as top-level names of the
#: interpreter's site-packages (psycopg finds its C build, psycopg_binary,
#: and that build its bundled libpq in psycopg_binary.libs).
POSTGRES_DRIVER = ("psycopg", "psycopg_binary", "psycopg_binary.libs", "typing_extensions")


def _installed_paths(name: str) -> list[Path]:
    """Where a top-level module, package or data directory of the installed
    driver lives (a `.libs` directory is found next to its package)."""
    if name.endswith(".libs"):
        owner = importlib.util.find_spec(name[: -len(".libs")])
        if owner is None or owner.origin is None:
            raise LookupError(f"{name[: -len('.libs')]} is not installed")
        path = Path(owner.origin).parent.parent / name
        return [path] if path.is_dir() else []
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise LookupError(
            f"{name} is not installed: the rotation function bundles it "
            "(pip install 'psycopg[binary]')"
        )
    origin = Path(spec.origin)
    return [origin.parent] if origin.name == "__init__.py" else [origin]


def _add_tree(zf: zipfile.ZipFile, path: Path) -> None:
    if path.is_file():
        zf.write(path, path.name)
        return
    for file in sorted(path.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts:
            info = zipfile.ZipInfo.from_file(file, str(file.relative_to(path.parent)))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, file.read_bytes())


def rotation_zip(strategy: str, engine: str = "postgres") -> bytes:
    """The deployment package of a rotation function: ``lambda_function.py``
    (handler ``lambda_function.lambda_handler``), the shared steps in
    ``rotation.py``, and the database driver."""
    if engine != "postgres":
        raise ValueError(f"no rotation function for engine {engine!r} (only postgres)")
    if strategy not in POSTGRES_STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(POSTGRES_STRATEGIES)}")
    source = HERE / "postgres_rotation"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(source / POSTGRES_STRATEGIES[strategy], "lambda_function.py")
        zf.write(source / "rotation.py", "rotation.py")
        for name in POSTGRES_DRIVER:
            for path in _installed_paths(name):
                _add_tree(zf, path)
    return buf.getvalue()
