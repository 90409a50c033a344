"""Secrets Manager benchmark: strongroom vs moto on the same signed GetSecretValue.

The secret holds a 200-byte JSON string under a customer managed KMS key, so
each strongroom request decrypts its version's data key through KMS (the
key policy and key state checked, a KMS event recorded), as AWS does. The
issue's bar: at least 20x moto, and p99 under 5 ms at half of peak
(``--half-peak``).

Run: ``python benchmarks/bench_secrets.py [--duration 10] [--connections 16] [--half-peak]``
"""

from __future__ import annotations

import json
import sys

from harness import Endpoint, RequestSpec, Workload, json_request, main

VALUE = json.dumps(
    {
        "engine": "postgres",
        "host": "127.0.0.1",
        "port": 5433,
        "username": "app",
        "password": "p" * 32,
        "dbname": "app",
    }
)


def get_secret_value(ep: Endpoint) -> RequestSpec:
    key_id = ep.client("kms").create_key(Description="bench")["KeyMetadata"]["KeyId"]
    ep.client("secretsmanager").create_secret(
        Name="bench/app/db", KmsKeyId=key_id, SecretString=VALUE
    )
    return json_request(
        "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "bench/app/db"}
    )


def get_secret_value_default_key(ep: Endpoint) -> RequestSpec:
    ep.client("secretsmanager").create_secret(Name="bench/default", SecretString=VALUE)
    return json_request(
        "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "bench/default"}
    )


WORKLOADS = [
    Workload("secretsmanager GetSecretValue (customer managed key)", get_secret_value),
    Workload("secretsmanager GetSecretValue (aws/secretsmanager)", get_secret_value_default_key),
]

if __name__ == "__main__":
    sys.exit(main(WORKLOADS, description=__doc__.splitlines()[0]))
