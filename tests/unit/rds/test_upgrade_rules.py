"""Rules of engine version upgrades that need no engine: the maintenance
window (`services/rds/upgrades.in_window`), the pre-upgrade snapshot's name,
the upgrade log's lines and files (`log_exports`), and the reason read from
pg_upgrade's output (`engines/postgres/upgrade._reason`)."""

from __future__ import annotations

from calendar import timegm
from dataclasses import dataclass
from pathlib import Path

from strongroom.engines.driver import Instance
from strongroom.engines.postgres import upgrade
from strongroom.services.rds import log_exports, upgrades


def at(y: int, mo: int, d: int, h: int, mi: int) -> float:
    return float(timegm((y, mo, d, h, mi, 0, 0, 0, 0)))


def test_the_maintenance_window_is_weekly_in_utc() -> None:
    # 2026-12-06 is a Sunday.
    assert upgrades.in_window("sun:05:00-sun:05:30", at(2026, 12, 6, 5, 0))
    assert upgrades.in_window("sun:05:00-sun:05:30", at(2026, 12, 6, 5, 29))
    assert not upgrades.in_window("sun:05:00-sun:05:30", at(2026, 12, 6, 5, 30))
    assert not upgrades.in_window("sun:05:00-sun:05:30", at(2026, 12, 7, 5, 10))  # a Monday
    assert upgrades.in_window("SUN:05:00-SUN:05:30", at(2026, 12, 13, 5, 10))  # a week on


def test_a_window_may_cross_midnight_and_the_week_end() -> None:
    window = "sun:23:45-mon:00:15"
    assert upgrades.in_window(window, at(2026, 12, 6, 23, 50))
    assert upgrades.in_window(window, at(2026, 12, 7, 0, 10))
    assert not upgrades.in_window(window, at(2026, 12, 7, 0, 20))
    assert not upgrades.in_window(window, at(2026, 12, 6, 23, 40))


def test_the_pre_upgrade_snapshot_is_named_as_rds_names_it() -> None:
    rec = {"identifier": "shop", "engine_version": "15.18"}
    name = upgrades.preupgrade_identifier(rec, at(2026, 12, 8, 1, 30))
    assert name == "rds:preupgrade-shop-15-18-2026-12-08-01-30"


@dataclass
class F:
    name: str


def test_each_type_publishes_its_own_files() -> None:
    files = [
        F("error/pg_upgrade_internal.log.2026-12-08-01-25"),
        F("error/pg_upgrade_precheck.log.2026-12-08-01-25"),
        F("error/postgresql.log.2026-12-08-01"),
    ]
    assert [f.name for f in log_exports.files_of("postgresql", files)] == [
        "error/postgresql.log.2026-12-08-01"
    ]
    assert len(log_exports.files_of("upgrade", files)) == 2
    assert log_exports.files_of("iam-db-auth-error", files) == []


def test_upgrade_log_lines_are_one_event_each() -> None:
    data = b"Performing Consistency Checks\n-----\n\nChecking cluster versions   ok\n"
    entries = log_exports.split_lines(data, 1000)
    assert [(s, t, m) for s, t, m in entries] == [
        (0, 1000, "Performing Consistency Checks"),
        (30, 1000, "-----"),
        (37, 1000, "Checking cluster versions   ok"),
    ]


def test_aurora_types_are_the_models() -> None:
    log_exports.require_types("aurora-postgresql", "18.6", ["postgresql", "instance"])
    try:
        log_exports.require_types("aurora-postgresql", "18.6", ["upgrade"])
    except Exception as err:
        assert "'upgrade'" in str(err)
    else:
        raise AssertionError("upgrade is not an Aurora PostgreSQL type")


def test_the_reason_is_the_failed_check_and_its_explanation() -> None:
    output = (
        "Performing Consistency Checks\n"
        "-----------------------------\n"
        "Checking cluster versions                                     ok\n"
        "Checking for data type usage                                  fatal\n"
        "\n"
        "Your installation contains one of the reg* data types in user tables.\n"
        "These data types reference system OIDs that are not preserved by\n"
        "Failure, exiting\n"
    )
    assert upgrade._reason(output) == (
        "Checking for data type usage: Your installation contains one of the reg* data "
        "types in user tables."
    )
    assert upgrade._reason("could not connect\nFailure, exiting\n") == "could not connect"


def _instance(root: Path, major: int) -> Instance:
    return Instance(
        instance_id="db-x", engine="postgres", major=major, version=f"{major}.1", port=1,
        host="127.0.0.1", socket_dir=root / "run", instance_dir=root, data_dir=root / "data",
        master_username="admin", db_name=None,
    )  # fmt: skip


def test_an_upgrade_cut_between_the_two_renames_goes_back_to_the_old_cluster(
    tmp_path: Path,
) -> None:
    (tmp_path / "data.old").mkdir()
    (tmp_path / "data.old" / "PG_VERSION").write_text("15\n")
    (tmp_path / "upgrade" / "data").mkdir(parents=True)
    upgrade.discard_leftovers(_instance(tmp_path, 15))
    assert (tmp_path / "data" / "PG_VERSION").read_text() == "15\n"
    assert not (tmp_path / "data.old").exists() and not (tmp_path / "upgrade").exists()


def test_after_the_switch_only_the_old_cluster_is_removed(tmp_path: Path) -> None:
    for name, major in (("data", "18"), ("data.old", "15")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "PG_VERSION").write_text(major)
    upgrade.discard_leftovers(_instance(tmp_path, 18))
    assert (tmp_path / "data" / "PG_VERSION").read_text() == "18"
    assert not (tmp_path / "data.old").exists()


def test_a_sealed_instance_keeps_nothing_an_upgrade_left(tmp_path: Path) -> None:
    (tmp_path / "upgrade" / "data").mkdir(parents=True)
    (tmp_path / "upgrade" / "data" / "PG_VERSION").write_text("18")
    upgrade.discard_leftovers(_instance(tmp_path, 15))  # (no data: sealed at rest)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
