"""Function aliases: a name that points at a version (and, with a
RoutingConfig, sends a share of invocations to a second one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from strongroom.ids import random_bytes, uuid4
from strongroom.services.lambda_ import names
from strongroom.services.lambda_.names import Ref
from strongroom.services.lambda_.tables import aliases, policies


@dataclass(frozen=True, slots=True)
class Alias:
    account: str
    region: str
    function: str
    name: str
    function_version: str
    description: str
    routing: dict[str, Any] | None
    revision_id: str

    @property
    def arn(self) -> str:
        return names.function_arn(self.account, self.region, self.function, self.name)

    def to_alias(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "AliasArn": self.arn,
            "Name": self.name,
            "FunctionVersion": self.function_version,
            "Description": self.description,
            "RevisionId": self.revision_id,
        }
        if self.routing:
            out["RoutingConfig"] = self.routing
        return out

    def pick_version(self) -> str:
        """The version one invocation through the alias runs: the
        additional versions' weights are the share of invocations they get."""
        weights = (self.routing or {}).get("AdditionalVersionWeights") or {}
        roll = int.from_bytes(random_bytes(4), "big") / 2**32
        for number, weight in weights.items():
            if roll < weight:
                return number
            roll -= weight
        return self.function_version


def _key(ref: Ref) -> Any:
    return (
        (aliases.c.account == ref.account)
        & (aliases.c.region == ref.region)
        & (aliases.c.name == ref.name)
    )


def _from(row: Any) -> Alias:
    m = row._mapping
    return Alias(
        m["account"],
        m["region"],
        m["name"],
        m["alias"],
        m["function_version"],
        m["description"],
        m["routing"],
        m["revision_id"],
    )


def get(conn: Any, ref: Ref, name: str) -> Alias | None:
    row = conn.execute(select(aliases).where(_key(ref) & (aliases.c.alias == name))).first()
    return None if row is None else _from(row)


def listing(conn: Any, ref: Ref) -> list[Alias]:
    rows = conn.execute(select(aliases).where(_key(ref)).order_by(aliases.c.alias)).fetchall()
    return [_from(r) for r in rows]


def create(conn: Any, ref: Ref, name: str, version: str, description: str, routing: Any) -> Alias:
    alias = Alias(ref.account, ref.region, ref.name, name, version, description, routing, uuid4())
    conn.execute(
        insert(aliases).values(
            account=ref.account,
            region=ref.region,
            name=ref.name,
            alias=name,
            function_version=version,
            description=description,
            routing=routing,
            revision_id=alias.revision_id,
        )
    )
    return alias


def change(conn: Any, alias: Alias, **values: Any) -> Alias:
    values["revision_id"] = uuid4()
    ref = Ref(alias.account, alias.region, alias.function, None)
    columns = {"function_version": "function_version", "description": "description"}
    row = {columns.get(k, k): v for k, v in values.items()}
    conn.execute(update(aliases).where(_key(ref) & (aliases.c.alias == alias.name)).values(**row))
    return Alias(
        alias.account,
        alias.region,
        alias.function,
        alias.name,
        values.get("function_version", alias.function_version),
        values.get("description", alias.description),
        values.get("routing", alias.routing),
        values["revision_id"],
    )


def remove(conn: Any, ref: Ref, name: str) -> None:
    conn.execute(delete(aliases).where(_key(ref) & (aliases.c.alias == name)))
    conn.execute(
        delete(policies).where(
            (policies.c.account == ref.account)
            & (policies.c.region == ref.region)
            & (policies.c.name == ref.name)
            & (policies.c.qualifier == name)
        )
    )
