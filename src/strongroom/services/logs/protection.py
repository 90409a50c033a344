"""Data protection policies: which sensitive data a log group's reads mask.

A policy document, as AWS takes it::

    {"Name": "...", "Description": "...", "Version": "2021-06-01",
     "Configuration": {"CustomDataIdentifier": [{"Name": "EmployeeId", "Regex": "EMP-\\d{6}"}]},
     "Statement": [
       {"Sid": "audit", "DataIdentifier": [<ARNs or custom names>],
        "Operation": {"Audit": {"FindingsDestination": {}}}},
       {"Sid": "redact", "DataIdentifier": [<the same>],
        "Operation": {"Deidentify": {"MaskConfig": {}}}}]}

Two statements, the first Audit and the second Deidentify, naming the
same data identifiers: AWS's managed ones
(``arn:aws:dataprotection::aws:data-identifier/EmailAddress``; the ones
served are `MANAGED`, with patterns written here) and up to 10 custom ones
by name. Events are stored as they came; every read (GetLogEvents,
FilterLogEvents, Insights results) shows each match replaced by as many
``*``, unless the caller asks to unmask (``unmask=True``, Insights'
``unmask(...)``) and holds ``logs:Unmask``. Filter patterns match the
events as stored (AWS's subscription and metric filters see the
unmasked events too). Audit findings are not delivered anywhere.

A policy compiles once, cached by document: each identifier's expression
(with an optional check of a match, such as Luhn's for card numbers)
behind a gate, a test far cheaper than the expression that every message
holding it passes (an ``@`` for an e-mail address, a keyword, a short
digit pattern), so an event with nothing to mask costs a few substring
tests and short scans.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from strongroom.encoding import json_value
from strongroom.framework import Call, JobRun
from strongroom.services.logs import resource_policies
from strongroom.services.logs.groups import Group
from strongroom.services.logs.service import errors
from strongroom.services.logs.tables import account_policies, data_protection
from strongroom.store.db import Prepared

VERSION = "2021-06-01"
ARN_PREFIX = "arn:aws:dataprotection::aws:data-identifier/"
MAX_CUSTOM = 10
MAX_DOCUMENT = 30_720
#: The account policy type this module serves (PutAccountPolicy).
ACCOUNT_TYPE = "DATA_PROTECTION_POLICY"


def _luhn(digits: str) -> bool:
    nums = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(nums) <= 19:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _ssn(text: str) -> bool:
    area, group, serial = text.replace(" ", "-").split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _mixed_key(text: str) -> bool:
    """A secret key mixes cases and digits (a run of one kind is no key)."""
    return (
        any(c.isupper() for c in text)
        and any(c.islower() for c in text)
        and any(c.isdigit() for c in text)
    )


def _ipv4(text: str) -> bool:
    return all(int(part) <= 255 for part in text.split("."))


_B = r"(?<![\w])"  # not inside a word
_E = r"(?![\w])"

#: A gate: a cheap test of (message, its lower-case form, its numeric
#: runs) that every message holding the identifier passes; the identifier's
#: expression runs only where it does (Python's regular expressions try
#: every position, and most log lines hold none of these).
Gate = Callable[[str, str, str], bool]
#: Maximal runs of digits and what numbers are written with: every match of
#: a numeric identifier lies inside one, so its gate scans these alone.
_RUNS = re.compile(r"[\d(+][\d .\-()+/:,]*")


def _has(*words: str) -> Gate:
    return lambda text, lower, runs: any(w in lower for w in words)


def _literal(word: str) -> Gate:
    return lambda text, lower, runs: word in text


def _numeric(pattern: str) -> Gate:
    rx = re.compile(pattern)
    return lambda text, lower, runs: rx.search(runs) is not None


@dataclass(frozen=True, slots=True)
class Identifier:
    pattern: str
    #: A check of a match (Luhn's for card numbers), or None.
    check: Callable[[str], bool] | None = None
    gate: Gate | None = None


#: Managed data identifiers, by AWS's names (patterns our own).
MANAGED: dict[str, Identifier] = {
    "EmailAddress": Identifier(
        r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
        r"\.[A-Za-z]{2,}",
        gate=_literal("@"),
    ),
    "AwsSecretKey": Identifier(
        r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
        _mixed_key,
        gate=lambda text, lower, runs: len(text) >= 40,
    ),
    "IpAddress": Identifier(
        _B
        + r"(?:\d{1,3}\.){3}\d{1,3}"
        + _E
        + r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])",
        lambda text: ":" in text or _ipv4(text),
        gate=lambda text, lower, runs, rx=re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d"): (
            rx.search(runs) is not None or text.count(":") >= 7
        ),
    ),
    "CreditCardNumber": Identifier(
        _B + r"\d(?:[ \-]?\d){12,18}" + _E,
        _luhn,
        gate=_numeric(r"\d{4}[ \-]?\d{4}[ \-]?\d{4}"),
    ),
    "CreditCardSecurityCode": Identifier(
        r"(?i:cvv2?|cvc2?|security code)[:= ]+\d{3,4}" + _E,
        gate=_has("cvv", "cvc", "security code"),
    ),
    "CreditCardExpiration": Identifier(
        r"(?i:exp(?:iry|iration)?(?: date)?)[:= ]+(?:0[1-9]|1[0-2])/\d{2,4}" + _E,
        gate=_has("exp"),
    ),
    "Ssn-US": Identifier(_B + r"\d{3}-\d{2}-\d{4}" + _E, _ssn, _numeric(r"\d{3}-\d\d-\d{4}")),
    "PhoneNumber-US": Identifier(
        r"(?<![\w+])(?:\+1[ .\-]?)?(?:\(\d{3}\)|\d{3})[ .\-]\d{3}[ .\-]\d{4}" + _E,
        gate=_numeric(r"\d{3}[ .\-]\d{4}"),
    ),
    "PassportNumber-US": Identifier(
        r"(?i:passport(?: number| no\.?)?)[:# ]+[A-Z0-9]{9}" + _E, gate=_has("passport")
    ),
    "BankAccountNumber-US": Identifier(
        r"(?i:account(?: number| no\.?)?)[:# ]+\d{8,17}" + _E, gate=_has("account")
    ),
    "Itin-US": Identifier(
        _B + r"9\d{2}-(?:5\d|6[0-5]|7\d|8[0-8]|9[0-24-9])-\d{4}" + _E,
        gate=_numeric(r"9\d\d-\d\d-\d{4}"),
    ),
    "OpenSshPrivateKey": Identifier(
        r"-----BEGIN OPENSSH PRIVATE KEY-----[\s\S]*?-----END OPENSSH PRIVATE KEY-----",
        gate=_literal("-----BEGIN OPENSSH"),
    ),
    "PgpPrivateKey": Identifier(
        r"-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]*?-----END PGP PRIVATE KEY BLOCK-----",
        gate=_literal("-----BEGIN PGP"),
    ),
    "PkcsPrivateKey": Identifier(
        r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]*?"
        r"-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----",
        gate=_literal("PRIVATE KEY-----"),
    ),
    "VehicleIdentificationNumber": Identifier(
        _B + r"[A-HJ-NPR-Z0-9]{17}" + _E,
        lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s),
        gate=lambda text, lower, runs, rx=re.compile(r"[A-HJ-NPR-Z0-9]{17}"): (
            rx.search(text) is not None
        ),
    ),
    "LatLong": Identifier(
        r"(?<![\d.])[-+]?(?:[1-8]?\d\.\d{4,}|90\.0{4,}),\s*[-+]?(?:1[0-7]\d|[1-9]?\d)\.\d{4,}" + _E,
        gate=_numeric(r"\d\.\d{4},"),
    ),
}


@dataclass(frozen=True, slots=True)
class Compiled:
    rx: re.Pattern[str]
    check: Callable[[str], bool] | None
    gate: Gate | None

    def replace(self, m: re.Match[str]) -> str:
        text = m.group(0)
        if self.check is not None and not self.check(text):
            return text
        return "*" * len(text)


@dataclass(frozen=True, slots=True)
class Masker:
    """One policy's identifiers, each compiled once, behind its gate."""

    parts: tuple[Compiled, ...]
    #: Whether a gate reads the lower-case form (made once a message).
    lowers: bool

    def mask(self, message: str) -> str:
        lower = message.lower() if self.lowers else ""
        runs = " ".join(_RUNS.findall(message))
        for part in self.parts:
            if part.gate is not None and not part.gate(message, lower, runs):
                continue
            message = part.rx.sub(part.replace, message)
        return message


#: The identifiers whose gates read the lower-case form.
_KEYWORDED = frozenset(
    {"CreditCardSecurityCode", "CreditCardExpiration", "PassportNumber-US", "BankAccountNumber-US"}
)


def _bad(message: str) -> Exception:
    return errors.InvalidParameterException(f"Invalid data protection policy: {message}")


def _identifiers(statement: dict, custom: dict[str, str]) -> list[str]:
    found = statement.get("DataIdentifier")
    if not isinstance(found, list) or not found or not all(isinstance(x, str) for x in found):
        raise _bad("each statement needs a non-empty DataIdentifier array")
    for name in found:
        if name.startswith(ARN_PREFIX):
            if name[len(ARN_PREFIX) :] not in MANAGED:
                raise _bad(f"unknown managed data identifier {name}")
        elif name not in custom:
            raise _bad(f"data identifier {name} is neither managed nor a custom identifier")
    return list(found)


#: A quantified group holding a quantifier (``(a+)+``, ``(\w*x)*``).
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")


def _custom(doc: dict) -> dict[str, str]:
    config = doc.get("Configuration") or {}
    if not isinstance(config, dict):
        raise _bad("Configuration must be an object")
    items = config.get("CustomDataIdentifier") or []
    if not isinstance(items, list) or len(items) > MAX_CUSTOM:
        raise _bad(f"at most {MAX_CUSTOM} custom data identifiers")
    out: dict[str, str] = {}
    for item in items:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("Name"), str)
            or not isinstance(item.get("Regex"), str)
        ):
            raise _bad("a custom data identifier has a Name and a Regex")
        if len(item["Regex"]) > 200:
            raise _bad("a custom data identifier's Regex is at most 200 characters")
        if _NESTED.search(item["Regex"]):
            # Every read runs it: a nested quantifier can take exponential time.
            raise _bad(
                f"the Regex of custom data identifier {item['Name']} repeats a repeated group"
            )
        try:
            re.compile(item["Regex"])
        except re.error:
            raise _bad(f"invalid Regex for custom data identifier {item['Name']}") from None
        out[item["Name"]] = item["Regex"]
    return out


def require_document(text: str) -> None:
    """AWS's checks of a policy document (InvalidParameterException)."""
    compile_document(text)


@functools.lru_cache(maxsize=512)
def compile_document(text: str) -> Masker:
    """The masker of a policy document, compiled once per document."""
    if len(text) > MAX_DOCUMENT:
        raise _bad(f"the document exceeds {MAX_DOCUMENT} characters")
    try:
        doc = json_value(text)
    except ValueError:
        raise _bad("the document is not valid JSON") from None
    if not isinstance(doc, dict):
        raise _bad("the document must be a JSON object")
    if doc.get("Version") != VERSION:
        raise _bad(f"Version must be {VERSION}")
    custom = _custom(doc)
    statements = doc.get("Statement")
    if not isinstance(statements, list) or len(statements) != 2:
        raise _bad("the policy must have exactly two statements: Audit, then Deidentify")
    audit, deidentify = statements
    if not isinstance(audit, dict) or not isinstance(deidentify, dict):
        raise _bad("a statement must be an object")
    audit_op, deid_op = audit.get("Operation"), deidentify.get("Operation")
    if not isinstance(audit_op, dict) or set(audit_op) != {"Audit"}:
        raise _bad("the first statement's Operation must be Audit")
    if not isinstance(audit_op["Audit"], dict) or not isinstance(
        audit_op["Audit"].get("FindingsDestination", {}), dict
    ):
        raise _bad("Audit takes a FindingsDestination object")
    if not isinstance(deid_op, dict) or set(deid_op) != {"Deidentify"}:
        raise _bad("the second statement's Operation must be Deidentify")
    deid = deid_op["Deidentify"]
    if not isinstance(deid, dict) or set(deid) != {"MaskConfig"} or deid["MaskConfig"] != {}:
        raise _bad("Deidentify takes MaskConfig, an empty object")
    audited, masked = _identifiers(audit, custom), _identifiers(deidentify, custom)
    if set(audited) != set(masked):
        raise _bad("the Audit and Deidentify statements must name the same data identifiers")
    parts: list[Compiled] = []
    for name in dict.fromkeys(masked):
        if name.startswith(ARN_PREFIX):
            ident = MANAGED[name[len(ARN_PREFIX) :]]
        else:
            ident = Identifier(custom[name])
        parts.append(Compiled(re.compile(ident.pattern), ident.check, ident.gate))
    lowers = any(
        name.startswith(ARN_PREFIX) and name[len(ARN_PREFIX) :] in _KEYWORDED for name in masked
    )
    return Masker(tuple(parts), lowers)


# --------------------------------------------------------------------------- store


@dataclass(slots=True)
class Policy:
    document: str
    updated: int
    #: Events ingested from then on are masked.
    since: int


_FIND = Prepared(
    select(data_protection.c.document, data_protection.c.updated, data_protection.c.since).where(
        data_protection.c.group_id == bindparam("group_id")
    )
)
_FIND_ACCOUNT = Prepared(
    select(account_policies.c.document, account_policies.c.updated, account_policies.c.since).where(
        account_policies.c.account == bindparam("account"),
        account_policies.c.region == bindparam("region"),
        account_policies.c.policy_type == ACCOUNT_TYPE,
    )
)


def find(conn: Connection, group_id: int) -> Policy | None:
    row = _FIND.first(conn, group_id=group_id)
    return Policy(*row) if row is not None else None


def put(conn: Connection, group_id: int, document: str, now: int) -> Policy:
    found = find(conn, group_id)
    if found is None:
        conn.execute(insert(data_protection).values(group_id=group_id, document=document,
                                                    updated=now, since=now))  # fmt: skip
        return Policy(document, now, now)
    conn.execute(
        update(data_protection)
        .where(data_protection.c.group_id == group_id)
        .values(document=document, updated=now)
    )
    return Policy(document, now, found.since)


def remove(conn: Connection, group_id: int) -> bool:
    q = delete(data_protection).where(data_protection.c.group_id == group_id)
    return conn.execute(q).rowcount > 0


@dataclass(frozen=True, slots=True)
class Protection:
    """What masks a group's events: each policy's masker, for the events
    ingested since it took effect (the group's own and the account's are
    cumulative, as AWS applies them)."""

    layers: tuple[tuple[Masker, int], ...]

    def mask(self, message: str, ingestion: int) -> str:
        for masker, since in self.layers:
            if ingestion >= since:
                message = masker.mask(message)
        return message


def _documents(conn: Connection, group: Group) -> tuple[tuple[str, int], ...]:
    found = []
    row = _FIND.first(conn, group_id=group.id)
    if row is not None:
        found.append((row[0], row[2]))
    row = _FIND_ACCOUNT.first(conn, account=group.account, region=group.region)
    if row is not None:
        found.append((row[0], row[2]))
    return tuple(found)


def protection_for(ctx: Call | JobRun, group: Group) -> Protection | None:
    """The masking a read of the group applies, or None (no policy). A
    request's documents come through the store's hot cache (every read
    asks); their compiled forms are cached by text."""
    if isinstance(ctx, Call):
        key = ("logs-data-protection", group.id, group.account, group.region)
        docs = ctx.store.hot_get(key)
        if docs is None:
            docs = _documents(ctx.conn, group)
            ctx.store.hot_put(key, docs)
    else:  # background work: no cache of the loop's
        docs = _documents(ctx.conn, group)
    if not docs:
        return None
    return Protection(tuple((compile_document(text), since) for text, since in docs))


def require_unmask(call: Call, group: Group) -> None:
    """``logs:Unmask`` on the group, decided as every request on it is."""
    policy = resource_policies.effective(call, group.account, group.region, group.arn)
    call.authorize(
        "logs:Unmask", group.resource, resource_policy=policy, resource_account=group.account
    )


def reader(call: Call, group: Group, unmask: bool | None) -> Callable[[str, int], str] | None:
    """What a read applies to each (message, ingestion time) of `group`:
    its policies' masks, or nothing when there is no policy or the caller
    unmasks (which takes ``logs:Unmask`` on the group)."""
    if unmask:
        require_unmask(call, group)
        return None
    found = protection_for(call, group)
    return found.mask if found is not None else None


# --------------------------------------------------------------------------- account policy


@dataclass(slots=True)
class AccountPolicy:
    account: str
    region: str
    policy_type: str
    name: str
    document: str
    scope: str
    selection_criteria: str | None
    updated: int
    since: int

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {
            "policyName": self.name,
            "policyDocument": self.document,
            "lastUpdatedTime": self.updated,
            "policyType": self.policy_type,
            "scope": self.scope,
            "accountId": self.account,
        }
        if self.selection_criteria is not None:
            out["selectionCriteria"] = self.selection_criteria
        return out


_ACCOUNT_COLUMNS = [account_policies.c[f] for f in AccountPolicy.__dataclass_fields__]  # type: ignore[attr-defined]


def account_policies_of(
    conn: Connection, account: str, region: str, policy_type: str, name: str | None = None
) -> list[AccountPolicy]:
    q = select(*_ACCOUNT_COLUMNS).where(
        account_policies.c.account == account,
        account_policies.c.region == region,
        account_policies.c.policy_type == policy_type,
    )
    if name is not None:
        q = q.where(account_policies.c.name == name)
    return [AccountPolicy(*r) for r in conn.execute(q.order_by(account_policies.c.name))]


def put_account_policy(call: Call, name: str, document: str, scope: str) -> AccountPolicy:
    now = int(call.clock.timestamp() * 1000)
    found = account_policies_of(call.conn, call.account, call.region, ACCOUNT_TYPE)
    where = (
        account_policies.c.account == call.account,
        account_policies.c.region == call.region,
        account_policies.c.policy_type == ACCOUNT_TYPE,
    )
    if found:
        call.conn.execute(
            update(account_policies).where(*where).values(name=name, document=document,
                                                          scope=scope, updated=now)
        )  # fmt: skip
        since = found[0].since
    else:
        call.conn.execute(
            insert(account_policies).values(
                account=call.account, region=call.region, policy_type=ACCOUNT_TYPE, name=name,
                document=document, scope=scope, updated=now, since=now,
            )
        )  # fmt: skip
        since = now
    return AccountPolicy(call.account, call.region, ACCOUNT_TYPE, name, document, scope, None,
                         now, since)  # fmt: skip


def remove_account_policy(conn: Connection, policy: AccountPolicy) -> None:
    conn.execute(
        delete(account_policies).where(
            account_policies.c.account == policy.account,
            account_policies.c.region == policy.region,
            account_policies.c.policy_type == policy.policy_type,
        )
    )


def protected(conn: Connection, account: str, region: str, group_ids: list[int]) -> set[int]:
    """Which of the groups a data protection policy covers (DescribeLogGroups'
    dataProtectionStatus): all of them under an account policy."""
    if not group_ids:
        return set()
    if _FIND_ACCOUNT.first(conn, account=account, region=region) is not None:
        return set(group_ids)
    q = select(data_protection.c.group_id).where(data_protection.c.group_id.in_(group_ids))
    return {row[0] for row in conn.execute(q)}
