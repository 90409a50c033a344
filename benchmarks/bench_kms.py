"""KMS data-plane benchmarks: strongroom vs moto on the same signed requests.

Encrypt of 1 KiB, Decrypt of that ciphertext, and GenerateDataKey (AES_256),
each against a fresh symmetric key with an encryption context.

Run: ``python benchmarks/bench_kms.py [--duration 10] [--connections 16] [--half-peak]``
"""

from __future__ import annotations

import base64
import sys

from harness import Endpoint, RequestSpec, Workload, json_request, main

CONTEXT = {"purpose": "benchmark", "tenant": "t-0001"}


def _key(ep: Endpoint) -> str:
    return ep.client("kms").create_key(Description="bench")["KeyMetadata"]["KeyId"]


def encrypt_1k(ep: Endpoint) -> RequestSpec:
    payload = {
        "KeyId": _key(ep),
        "Plaintext": base64.b64encode(b"x" * 1024).decode(),
        "EncryptionContext": CONTEXT,
    }
    return json_request("kms", "TrentService.Encrypt", payload)


def decrypt_1k(ep: Endpoint) -> RequestSpec:
    kms = ep.client("kms")
    blob = kms.encrypt(KeyId=_key(ep), Plaintext=b"x" * 1024, EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    payload = {"CiphertextBlob": base64.b64encode(blob).decode(), "EncryptionContext": CONTEXT}
    return json_request("kms", "TrentService.Decrypt", payload)


def generate_data_key(ep: Endpoint) -> RequestSpec:
    payload = {"KeyId": _key(ep), "KeySpec": "AES_256", "EncryptionContext": CONTEXT}
    return json_request("kms", "TrentService.GenerateDataKey", payload)


WORKLOADS = [
    Workload("kms Encrypt 1 KiB", encrypt_1k),
    Workload("kms Decrypt 1 KiB", decrypt_1k),
    Workload("kms GenerateDataKey AES_256", generate_data_key),
]

if __name__ == "__main__":
    sys.exit(main(WORKLOADS, description=__doc__.splitlines()[0]))
