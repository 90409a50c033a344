"""SCRAM-SHA-256 verifiers computed here, so a plaintext password never
reaches the server's statement text (a log line under log_statement=all or
an error's STATEMENT line), WAL or disk: the server stores the verifier it is
given as is (PostgreSQL's "pre-hashed password" rule)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import stringprep
import unicodedata

ITERATIONS = 4096  # PostgreSQL's scram_iterations default


def saslprep(password: str) -> bytes:
    """RFC 4013 SASLprep as PostgreSQL applies it (pg_saslprep): pure ASCII
    and strings SASLprep rejects are used as they are."""
    raw = password.encode("utf-8")
    if password.isascii():
        return raw
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in password if not stringprep.in_table_b1(c)
    )
    normalized = unicodedata.normalize("NFKC", mapped)
    if not normalized:
        return raw
    prohibited = (
        stringprep.in_table_c12,
        stringprep.in_table_c21_c22,
        stringprep.in_table_c3,
        stringprep.in_table_c4,
        stringprep.in_table_c5,
        stringprep.in_table_c6,
        stringprep.in_table_c7,
        stringprep.in_table_c8,
        stringprep.in_table_c9,
        stringprep.in_table_a1,
    )
    if any(check(c) for c in normalized for check in prohibited):
        return raw
    ral = [stringprep.in_table_d1(c) for c in normalized]
    if any(ral):
        if any(stringprep.in_table_d2(c) for c in normalized):
            return raw
        if not (ral[0] and ral[-1]):
            return raw
    return normalized.encode("utf-8")


def verifier(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The ``SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`` string."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(b: bytes) -> str:
        return base64.b64encode(b).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
