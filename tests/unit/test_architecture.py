"""What may import what (DESIGN.md §7.1), checked on the source text, every
import counted (module level, inside functions and under TYPE_CHECKING).

- The layers, bottom up: the base modules (arn, ids, tokens, encoding, admin_client);
  protocol, store and engines (execution engines, e.g. Lambda's runtime);
  auth; audit; framework; the services; the server; the
  CLI and the test harness. The Lambda functions strongroom ships
  (`functions/`) import nothing of strongroom. A layer imports only layers below it
  (`ALLOWED`), and no package takes part in an import cycle.
- protocol/ never names a service; the store names no table of another layer.
- A service package never imports the protocol layer, the server, json,
  base64 or low-level crypto — the pipeline owns the wire, and only the
  sealing module and the KMS ciphertext module touch cryptography.hazmat.
  Nor orjson, pybase64 or binascii: the store encodes state (`JsonText`),
  and `strongroom.encoding` the few documents a service writes as text
  (enforced for the services in `NO_ENCODERS`; the rest are being moved).
- No SQL in operations: a service's ``ops_*`` modules import neither
  sqlalchemy nor a tables module; statements live in its domain modules
  (enforced for the services in `DOMAIN_LAYERED`).
- A service uses another service only through its public ``api`` module, and
  never reaches out of its package with a relative import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "strongroom"
SERVICES = [p for p in (SRC / "services").iterdir() if p.is_dir() and p.name != "__pycache__"]
HAZMAT_ALLOWED = {SRC / "store" / "sealing.py", SRC / "services" / "kms" / "ciphertext.py"}
# Verifying identity providers' JWT signatures (RSA/ECDSA public keys) for STS.
HAZMAT_ALLOWED.add(SRC / "auth" / "federation.py")
# Verifying SAML assertions' XML signatures (RSA/ECDSA public keys) for STS.
HAZMAT_ALLOWED.add(SRC / "auth" / "xmldsig.py")
# Signing CloudTrail digest files (SHA256withRSA) with the per-Region key pair.
HAZMAT_ALLOWED.add(SRC / "services" / "cloudtrail" / "signing.py")
# Issuing the RDS engines' TLS certificates (the server's CA, RSA 2048).
HAZMAT_ALLOWED.add(SRC / "engines" / "postgres" / "tls.py")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


#: `forms`: multipart/form-data read as it streams (S3's POST uploads), a
#: text format a service reads as it reads JSON through `encoding`.
BASE = {"strongroom", "arn", "ids", "tokens", "encoding", "forms", "admin_client"}
#: Layer -> the layers it may import (besides itself and the base modules).
ALLOWED: dict[str, set[str]] = {
    "protocol": set(),
    "store": set(),
    "engines": set(),  # execution engines (Lambda's runtime): beside the store
    "auth": {"protocol", "store"},
    "audit": {"protocol", "store", "auth"},
    "framework": {"protocol", "store", "auth", "audit"},
    "service": {"store", "engines", "auth", "audit", "framework"},  # + other services' api modules
    "services": {"framework", "service"},  # the registry
    "server": {"protocol", "store", "engines", "auth", "audit", "framework", "service", "services"},
    "testing": {"server"},
    "cli": {"server", "store", "functions"},
    # Lambda functions strongroom ships: they run in execution environments
    # and reach the server only over the AWS API, never by import.
    "functions": set(),
    "__main__": {"cli"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def unit_of(module: str) -> str:
    """The package a module belongs to: a service's package counts on its own."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE:
        return "base"
    if parts[1] == "services" and len(parts) > 2 and parts[2] != "registry":
        return f"service:{parts[2]}"
    return parts[1]


def layer_of(unit: str) -> str:
    return "service" if unit.startswith("service:") else unit


def modules_imported(path: Path) -> set[str]:
    """The strongroom modules `path` imports (``from a.b import c`` is ``a.b.c``
    when that is a module, else ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            found.update(subs & MODULES.keys() or {node.module})
    return found & MODULES.keys()


def edges() -> dict[str, set[tuple[str, str]]]:
    """unit -> {(imported module, importing file)} for every strongroom import."""
    found: dict[str, set[tuple[str, str]]] = {}
    for name, path in MODULES.items():
        for target in modules_imported(path):
            a, b = unit_of(name), unit_of(target)
            if a != b:
                found.setdefault(a, set()).add((target, name))
    return found


def test_layers_import_only_downwards() -> None:
    bad = []
    for unit, targets in edges().items():
        layer = layer_of(unit)
        allowed = ALLOWED.get(layer)
        assert allowed is not None, f"{unit} is in no layer: add it to ALLOWED"
        for target, importer in targets:
            other = unit_of(target)
            if other == "base":
                continue
            if layer == "service" and other.startswith("service:"):
                if target != f"strongroom.services.{other[8:]}.api":
                    bad.append(f"{importer} uses {target}: only {other[8:]}'s api module")
                continue
            if layer_of(other) not in allowed:
                bad.append(f"{importer} ({layer}) imports {target} ({layer_of(other)})")
    assert not bad, "\n".join(sorted(bad))


def test_no_import_cycles() -> None:
    graph = {unit: {unit_of(t) for t, _ in targets} - {"base"} for unit, targets in edges().items()}
    seen: set[str] = set()

    def visit(unit: str, path: list[str]) -> None:
        if unit in path:
            cycle = [*path[path.index(unit) :], unit]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if unit in seen:
            return
        for nxt in sorted(graph.get(unit, ())):
            visit(nxt, [*path, unit])
        seen.add(unit)

    for unit in sorted(graph):
        visit(unit, [])


def test_no_relative_import_leaves_its_package() -> None:
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 1:
                raise AssertionError(f"{path.relative_to(SRC)}: 'from {'.' * node.level}' import")


def test_protocol_never_names_a_service() -> None:
    for path in (SRC / "protocol").rglob("*.py"):
        bad = {
            n
            for n in imports_of(path)
            if n.startswith(("strongroom.services", "strongroom.server"))
        }
        assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("package", SERVICES, ids=lambda p: p.name)
def test_services_stay_off_the_wire(package: Path) -> None:
    forbidden = ("strongroom.protocol", "strongroom.server", "json", "base64")
    for path in package.rglob("*.py"):
        for name in imports_of(path):
            assert not (name in forbidden or name.startswith(tuple(f + "." for f in forbidden))), (
                f"{path.relative_to(SRC)} imports {name}"
            )


def test_only_sealing_and_kms_ciphertext_touch_hazmat() -> None:
    for path in SRC.rglob("*.py"):
        if path in HAZMAT_ALLOWED:
            continue
        hazmat = {n for n in imports_of(path) if n.startswith("cryptography.hazmat")}
        assert not hazmat, f"{path.relative_to(SRC)} imports {hazmat}"


def test_one_way_to_reach_errors() -> None:
    """A service's errors come from its own service module (``errors.X``),
    never through the call (``call.service.errors``), which would name the
    caller's service for a function another service reaches."""
    for package in SERVICES:
        for path in package.rglob("*.py"):
            text = path.read_text()
            assert "call.service.errors" not in text, (
                f"{path.relative_to(SRC)} reaches errors through the call"
            )


def _hand_made_service_calls(path: Path) -> list[int]:
    """Lines where `path` builds ``Call(..., principal=service_principal(...))``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Call"):
            continue
        for kw in node.keywords:
            value = kw.value
            if (
                kw.arg == "principal"
                and isinstance(value, ast.Call)
                and getattr(value.func, "id", None) == "service_principal"
            ):
                found.append(node.lineno)
    return found


def test_services_act_as_themselves_through_the_framework() -> None:
    """A service acting as its own principal builds its `Call` with
    `framework.acting_as`, which hands what it asks of other services to the
    request's or the job's children: a hand-made one drops them from the trail."""
    bad = []
    for package in SERVICES:
        for path in package.rglob("*.py"):
            bad += [f"{path.relative_to(SRC)}:{line}" for line in _hand_made_service_calls(path)]
    assert not bad, "use framework.acting_as: " + ", ".join(bad)


#: Services held to the no-encoders rule (the others follow as they are ported).
NO_ENCODERS = (
    "kms", "cloudtrail", "sts", "iam", "secretsmanager", "lambda_", "s3", "rds", "logs",
    "cloudwatch",
)  # fmt: skip
ENCODERS = ("orjson", "json", "base64", "pybase64", "binascii")


@pytest.mark.parametrize("name", NO_ENCODERS)
def test_services_do_not_encode(name: str) -> None:
    bad = []
    for path in (SRC / "services" / name).rglob("*.py"):
        for imported in imports_of(path):
            if imported.split(".")[0] in ENCODERS:
                bad.append(f"{path.relative_to(SRC)} imports {imported}")
    assert not bad, "\n".join(sorted(bad))


#: Services whose operation modules (``ops_*.py``) hold no SQL.
DOMAIN_LAYERED = (
    "kms",
    "iam",
    "sts",
    "secretsmanager",
    "lambda_",
    "s3",
    "rds",
    "logs",
    "cloudtrail",
    "cloudwatch",
)


@pytest.mark.parametrize("name", DOMAIN_LAYERED)
def test_operations_hold_no_sql(name: str) -> None:
    package = SRC / "services" / name
    modules = sorted(package.glob("ops_*.py"))
    assert modules, f"services/{name} has no ops_*.py modules"
    bad = []
    for path in modules:
        for imported in imports_of(path):
            top = imported.split(".")[0]
            if top == "sqlalchemy" or imported.endswith(".tables") or ".tables." in imported:
                bad.append(f"{path.relative_to(SRC)} imports {imported}")
    assert not bad, "\n".join(sorted(bad))


def test_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The two checks above see every form of import."""
    source = tmp_path / "ops_x.py"
    source.write_text(
        "import orjson\n"
        "from sqlalchemy import select\n"
        "def f():\n"
        "    from strongroom.services.kms.tables import keys\n"
        "    import binascii\n"
    )
    found = imports_of(source)
    assert {"orjson", "binascii", "sqlalchemy.select"} <= found
    assert "strongroom.services.kms.tables.keys" in found


def test_the_acting_as_rule_sees_a_hand_made_call(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text(
        "def f(run):\n"
        "    ok = acting_as(run, service, 'rds.amazonaws.com', account='1', region='r',\n"
        "                   operation='X')\n"
        "    return Call(runtime=run.runtime, principal=service_principal('rds.amazonaws.com'))\n"
    )
    assert _hand_made_service_calls(source) == [4]
