"""RDS: DB instances on real PostgreSQL servers (control plane only for the
other engines), snapshots that carry the data, encrypted copies and
restores, through the engine driver (`strongroom.engines`) and KMS's
internal API."""

from strongroom.services.rds import (  # noqa: F401  (operations, work and trail register on import)
    cluster_work,
    log_exports,
    log_retention,
    monitoring,
    ops_backups,
    ops_certificates,
    ops_cluster_endpoints,
    ops_cluster_parameters,
    ops_cluster_snapshots,
    ops_clusters,
    ops_instances,
    ops_logs,
    ops_misc,
    ops_option_groups,
    ops_parameters,
    ops_replicas,
    ops_snapshots,
    replica_work,
    trail,
    work,
    work_backups,
)
from strongroom.services.rds.service import service

__all__ = ["service"]
