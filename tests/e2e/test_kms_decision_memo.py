"""The KMS decisions remembered for an account root (access._ROOT_MEMO) are
keyed by what the key policy reads: an AWS managed key's policy allows use
only through its service (kms:ViaService), so the same root is allowed
through Secrets Manager and refused directly, however the calls alternate."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from strongroom.testing import StrongroomServer

pytestmark = pytest.mark.e2e


def test_managed_key_through_the_service_only(server: StrongroomServer) -> None:
    sm, kms = server.client("secretsmanager"), server.client("kms")
    sm.create_secret(Name="memo/check", SecretString="memo-value")
    for _ in range(3):
        assert sm.get_secret_value(SecretId="memo/check")["SecretString"] == "memo-value"
        with pytest.raises(ClientError) as err:
            kms.encrypt(KeyId="alias/aws/secretsmanager", Plaintext=b"direct")
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
        with pytest.raises(ClientError) as err:
            kms.generate_data_key(KeyId="alias/aws/secretsmanager", KeySpec="AES_256")
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    # The metadata statement needs no service: DescribeKey works directly.
    assert kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]["KeyManager"] == "AWS"
