"""What may import what (DESIGN.md §7.1), checked on the source text.

- protocol/ never names a service;
- a service package never imports the protocol layer, the server, json,
  base64 or low-level crypto — the pipeline owns the wire, and only the
  sealing module and the KMS ciphertext module touch cryptography.hazmat.
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
