"""One package per AWS service. Importing this package registers every
service's tables on the store's metadata."""

from strongroom.audit import tables as _audit_tables  # noqa: F401
from strongroom.auth import tables as _auth_tables  # noqa: F401
from strongroom.services.iam import tables as _iam_tables  # noqa: F401
from strongroom.services.kms import tables as _kms_tables  # noqa: F401
