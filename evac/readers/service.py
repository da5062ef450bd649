"""Card readers: pairing one with a desk screen, taking its reads, handing them to that desk screen.

A desk screen (the browser of a tablet at a desk, known by the random id it keeps in its
localStorage) asks for a pairing code; staff type it on the reader PC (`evac-reader pair CODE`),
which exchanges it for a reader token. The token can do one thing: post card reads for that desk
screen (`accept_read`). Its answers carry no personal data.

How a read reaches the desk (why a short poll): the reader posts the read to any worker of any
host; the read is stored in `reader_read`, the one place every worker and host sees. The desk
screen, while a reader is paired with it, asks every second (`poll_desk`). gunicorn's gthread
workers have four threads each, so a long poll or an event stream per desk would hold a thread per
desk; a short poll holds one for a millisecond. When nothing waits, the poll is a read-only unit of
four indexed lookups (the credentials epoch, the desk's readers, its pending reads, and whether an
expired read anywhere still holds data) and takes no write lock. A read is delivered at least once:
the desk acknowledges the read ids it got in its next poll (sent at once), and only then is the
read's personal data deleted; an answer lost on the way means the read comes again, and the desk
drops what it has seen. Every delivery is audited as a staff read of personal data.

Personal data in `reader_read` lives only while the read is pending: until the desk acknowledges
it, its reader is revoked, or `READ_TTL` (2 minutes) has passed. The database refuses anything else
(CHECK constraints), the poll never hands out an expired read, and the first poll or read after
the expiry clears it. The row, without data, is kept for `READ_ID_KEEP` so that a reader resending
the same `read_id` after a lost answer is answered 200 and nothing is shown twice.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, null, select, update

from evac.accounts.auth import ReaderTokenRequired, ensure_shelter_access
from evac.accounts.service import READER_TOKEN_PREFIX, Principal, bump_epoch, hash_token
from evac.audit import service as audit
from evac.common.db import current_unit, now_utc, read_only, writing
from evac.common.errors import Conflict, DomainError, Forbidden, NotFound, Unauthenticated, ValidationFailed
from evac.extensions import db
from evac.people import service as people
from evac.readers.models import CardReader, ReaderPairing, ReaderRead, ReadKind, ReadState
from evac.shelters import service as shelters
from evac.shelters.models import Shelter

log = logging.getLogger(__name__)

# No 0/O, 1/I/L or U: a code read off a tablet and typed on a PC cannot be mistyped into another.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8  # 30⁸ ≈ 6.6 × 10¹¹ codes; a handful live at once, wrong tries throttled per address
PAIRING_TTL = timedelta(minutes=10)
PAIRING_KEEP = timedelta(days=1)  # used and expired codes answer 410 this long, then go
READ_TTL = timedelta(minutes=2)  # the longest a read's personal data is kept
READ_ID_KEEP = timedelta(minutes=10)  # a read's id (no data) is kept this long to recognise resends
POLL_MS = 1000  # how often a desk screen with a reader asks for reads
MAX_READS_PER_POLL = 20
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff70]")

_READERS = CardReader.__table__
_PAIRINGS = ReaderPairing.__table__
_READS = ReaderRead.__table__


class PairingCodeUnknown(NotFound):
    """No pairing code like this was ever shown."""

    code = "pairing_code_unknown"


class PairingCodeExpired(DomainError):
    """The code was shown more than ten minutes ago, or a newer one replaced it on its desk screen."""

    status = 410
    code = "pairing_code_expired"


class PairingCodeUsed(DomainError):
    """The code has paired a reader already (codes are single use)."""

    status = 410
    code = "pairing_code_used"


class ReaderRevoked(Unauthenticated):
    """The reader's token is unknown or was revoked: the reader must be paired again."""

    code = "reader_revoked"


class ReadIdReused(Conflict):
    """Another reader already sent a read with this id."""

    code = "read_id_reused"


# --- pairing codes ---------------------------------------------------------------------------------


def normalise_code(text: str) -> str | None:
    """The code as stored (8 letters and digits, upper case), or None if `text` cannot be one.

    Typed on a PC or a tablet: any case, with or without the dash, full-width or half-width.
    """
    folded = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or "")).upper()
    if len(folded) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in folded):
        return None
    return folded


def format_code(code: str) -> str:
    """`K7Q4PX2M` as shown on the desk screen: `K7Q4-PX2M`."""
    return f"{code[:4]}-{code[4:]}"


def _code_hash(code: str) -> str:
    # Keyed: a copy of the table does not give the live codes away to a dictionary of 30⁸ entries.
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, b"evac-reader-pairing:" + code.encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PairingCode:
    """A code for the desk screen to show."""

    code: str  # grouped, K7Q4-PX2M
    expires_at: datetime
    shelter_id: int
    desk_id: str

    def payload(self) -> dict[str, Any]:
        """The code as the API answers it."""
        return {"code": self.code, "expires_at": self.expires_at.isoformat(),
                "expires_in": int(PAIRING_TTL.total_seconds()), "shelter_id": self.shelter_id,
                "desk_id": self.desk_id}


@writing
def create_pairing(account: Principal, shelter_id: int, desk_id: str, desk_label: str = "") -> PairingCode:
    """A new single-use pairing code for this desk screen; any earlier unused one of it stops working."""
    ensure_shelter_access(account, shelter_id)
    shelters.get_shelter(shelter_id)
    now = now_utc()
    db.session.execute(update(_PAIRINGS).where(
        _PAIRINGS.c.desk_id == desk_id, _PAIRINGS.c.used_at.is_(None), _PAIRINGS.c.superseded_at.is_(None),
    ).values(superseded_at=now))
    db.session.execute(delete(_PAIRINGS).where(_PAIRINGS.c.created_at < now - PAIRING_KEEP))
    for _attempt in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        code_hash = _code_hash(code)
        if db.session.scalar(select(_PAIRINGS.c.id).where(_PAIRINGS.c.code_hash == code_hash)) is None:
            break
    expires_at = now + PAIRING_TTL
    pairing_id = db.session.execute(_PAIRINGS.insert().values(
        code_hash=code_hash, shelter_id=shelter_id, desk_id=desk_id, desk_label=desk_label.strip(),
        created_by_id=account.id, created_at=now, expires_at=expires_at).returning(_PAIRINGS.c.id)).scalar_one()
    audit.record("reader.pairing_code", subject_type="shelter", subject_id=shelter_id, shelter_id=shelter_id,
                 detail={"pairing_id": pairing_id, "desk_id": desk_id})
    return PairingCode(format_code(code), expires_at, shelter_id, desk_id)


@dataclass(frozen=True)
class Paired:
    """The answer to a pairing: the reader's id and its token (shown to the reader once, never stored)."""

    reader_id: int
    token: str
    shelter_id: int
    shelter_name: str

    def __repr__(self) -> str:
        return f"Paired(reader_id={self.reader_id}, shelter_id={self.shelter_id}, token=<hidden>)"


def pair(code_text: str, name: str = "") -> Paired:
    """Exchange a pairing code for a new reader token (no login: the code is the credential).

    `PairingCodeUnknown` (404), `PairingCodeExpired` or `PairingCodeUsed` (410) otherwise; every
    refusal is audited, and the web layer throttles wrong codes per address.
    """
    code = normalise_code(code_text)
    if code is None:
        audit.refused("reader.pair", detail={"reason": "malformed"})
        raise PairingCodeUnknown(_("ペアリングコードが見つかりません"))
    token = READER_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return _pair(code, name.strip(), token)


@writing
def _pair(code: str, name: str, token: str) -> Paired:
    now = now_utc()
    code_hash = _code_hash(code)
    # One statement takes the code: a second reader typing the same code a moment later finds it used.
    taken = db.session.execute(update(_PAIRINGS).where(
        _PAIRINGS.c.code_hash == code_hash, _PAIRINGS.c.used_at.is_(None), _PAIRINGS.c.superseded_at.is_(None),
        _PAIRINGS.c.expires_at > now,
    ).values(used_at=now).returning(
        _PAIRINGS.c.id, _PAIRINGS.c.shelter_id, _PAIRINGS.c.desk_id, _PAIRINGS.c.desk_label,
        _PAIRINGS.c.created_by_id)).first()
    if taken is None:
        _refuse_code(code_hash)
    assert taken is not None
    # The same reader paired again (its configuration replaced) stands in for its earlier pairing.
    replaced = [] if not name else list(db.session.scalars(update(_READERS).where(
        _READERS.c.desk_id == taken.desk_id, _READERS.c.name == name, _READERS.c.revoked_at.is_(None),
    ).values(revoked_at=now).returning(_READERS.c.id)))
    if replaced:
        _drop_pending(replaced)
    reader_id = db.session.execute(_READERS.insert().values(
        token_hash=hash_token(token), shelter_id=taken.shelter_id, desk_id=taken.desk_id,
        desk_label=taken.desk_label, name=name, paired_by_id=taken.created_by_id, paired_at=now,
    ).returning(_READERS.c.id)).scalar_one()
    if not name:
        db.session.execute(update(_READERS).where(_READERS.c.id == reader_id).values(name=f"reader-{reader_id}"))
    db.session.execute(update(_PAIRINGS).where(_PAIRINGS.c.id == taken.id).values(reader_id=reader_id))
    bump_epoch()
    audit.record("reader.pair", subject_type="reader", subject_id=reader_id, shelter_id=taken.shelter_id,
                 account_id=taken.created_by_id,
                 detail={"pairing_id": taken.id, "desk_id": taken.desk_id, "replaced": replaced})
    shelter = shelters.get_shelter(taken.shelter_id)
    return Paired(reader_id, token, shelter.id, shelter.name)


def _refuse_code(code_hash: str) -> None:
    known = db.session.execute(select(_PAIRINGS.c.id, _PAIRINGS.c.used_at, _PAIRINGS.c.shelter_id)
                               .where(_PAIRINGS.c.code_hash == code_hash)).first()
    if known is None:
        audit.refused("reader.pair", detail={"reason": "unknown"})
        raise PairingCodeUnknown(_("ペアリングコードが見つかりません"))
    reason = "used" if known.used_at is not None else "expired"
    audit.refused("reader.pair", subject_type="pairing", subject_id=known.id, shelter_id=known.shelter_id,
                  detail={"reason": reason})
    if known.used_at is not None:
        raise PairingCodeUsed(_("このペアリングコードは使用済みです。受付画面で新しいコードを表示してください"))
    raise PairingCodeExpired(_("ペアリングコードの有効期限が切れています。受付画面で新しいコードを表示してください"))


# --- reads from a reader -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderIdentity:
    """The reader a token belongs to."""

    id: int
    shelter_id: int
    desk_id: str


def _reader_for(token: str) -> ReaderIdentity:
    if not token.startswith(READER_TOKEN_PREFIX):
        raise ReaderTokenRequired(_("カードリーダーのトークンが必要です"))
    row = db.session.execute(select(_READERS.c.id, _READERS.c.shelter_id, _READERS.c.desk_id, _READERS.c.revoked_at)
                             .where(_READERS.c.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        if row is not None:
            audit.refused("reader.read", subject_type="reader", subject_id=row.id, shelter_id=row.shelter_id,
                          detail={"reason": "revoked"})
        raise ReaderRevoked(_("このカードリーダーの接続は解除されています。もう一度ペアリングしてください"))
    return ReaderIdentity(row.id, row.shelter_id, row.desk_id)


@dataclass(frozen=True)
class ReadOutcome:
    """How a posted read was taken: 202 the first time, 200 for a resent `read_id`. No personal data."""

    status_code: int
    read_id: str

    def payload(self) -> dict[str, Any]:
        """The answer's body."""
        return {"status": "accepted" if self.status_code == 202 else "duplicate", "read_id": self.read_id}


@writing
def accept_read(token: str, body: dict[str, Any]) -> ReadOutcome:
    """Store one read from the reader `token` belongs to, for its desk screen.

    `body`: `read_id` (a string), `type` and `card` (the four basic items) or `uid`. A resent
    `read_id` changes nothing. Anything shaped like a 12-digit 個人番号 is refused (422) and nothing
    is stored; the refusal is audited without the value.
    """
    reader = _reader_for(token)
    read_id = str(body["read_id"])
    kind = ReadKind(body["type"])
    if kind is ReadKind.MYNUMBER:
        try:
            people.refuse_individual_numbers({"card": body["card"]})
        except ValidationFailed:
            audit.refused("reader.read", subject_type="reader", subject_id=reader.id, shelter_id=reader.shelter_id,
                          detail={"read_id": read_id, "reason": "individual_number"})
            raise
        payload: dict[str, Any] = {"card": {k: body["card"][k] for k in ("name", "address", "birth_date", "sex")}}
    else:
        payload = {"uid": body["uid"]}
    now = now_utc()
    _sweep(now)
    stored = db.session.execute(current_unit().insert(_READS).values(
        read_id=read_id, reader_id=reader.id, shelter_id=reader.shelter_id, desk_id=reader.desk_id,
        kind=kind.value, state=ReadState.PENDING.value, payload=payload, received_at=now,
    ).on_conflict_do_nothing(index_elements=["read_id"]).returning(_READS.c.id)).scalar()
    if stored is None:
        owner = db.session.scalar(select(_READS.c.reader_id).where(_READS.c.read_id == read_id))
        if owner != reader.id:
            raise ReadIdReused(_("この read_id は別のカードリーダーが使っています"), fields={"read_id": "reused"})
        return ReadOutcome(200, read_id)
    db.session.execute(update(_READERS).where(_READERS.c.id == reader.id).values(last_read_at=now))
    audit.record("reader.read", subject_type="reader", subject_id=reader.id, shelter_id=reader.shelter_id,
                 detail={"read_id": read_id, "type": kind.value})
    return ReadOutcome(202, read_id)


def _sweep(now: datetime) -> int:
    """Clear the data of reads nobody fetched in time, and forget old read ids; joins a writing unit."""
    expired = db.session.execute(update(_READS).where(
        _READS.c.state == ReadState.PENDING.value, _READS.c.received_at < now - READ_TTL,
    ).values(state=ReadState.EXPIRED.value, payload=null()))
    db.session.execute(delete(_READS).where(_READS.c.received_at < now - READ_ID_KEEP))
    count = int(getattr(expired, "rowcount", 0) or 0)
    if count:
        log.info("card reads expired undelivered", extra={"count": count})
    return count


@writing
def sweep_reads() -> int:
    """Clear expired reads now (the desk poll does it when it sees one; `evac readers sweep` too)."""
    return _sweep(now_utc())


def _drop_pending(reader_ids: Sequence[int]) -> None:
    db.session.execute(update(_READS).where(
        _READS.c.reader_id.in_(list(reader_ids)), _READS.c.state == ReadState.PENDING.value,
    ).values(state=ReadState.DROPPED.value, payload=null()))


# --- the desk screen's poll ----------------------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


@dataclass(frozen=True)
class _Poll:
    body: dict[str, Any]
    stale: bool


def poll_desk(account: Principal, shelter_id: int, desk_id: str, ack: Iterable[str] = ()) -> dict[str, Any]:
    """The desk screen's readers and the reads waiting for it; acknowledges the reads it already has.

    Read-only (no write lock) unless the desk acknowledges reads or an expired read must be cleared.
    Each read handed out is audited as a staff read of personal data.
    """
    acknowledged = list(dict.fromkeys(str(a) for a in ack))
    if acknowledged:
        return _poll_acknowledging(account, shelter_id, desk_id, acknowledged)
    poll = _poll(account, shelter_id, desk_id)
    if poll.stale:
        sweep_reads()
    return poll.body


@read_only
def _poll(account: Principal, shelter_id: int, desk_id: str) -> _Poll:
    return _poll_body(account, shelter_id, desk_id, now_utc())


@writing
def _poll_acknowledging(account: Principal, shelter_id: int, desk_id: str, ack: list[str]) -> dict[str, Any]:
    ensure_shelter_access(account, shelter_id)
    now = now_utc()
    db.session.execute(update(_READS).where(
        _READS.c.read_id.in_(ack), _READS.c.desk_id == desk_id, _READS.c.shelter_id == shelter_id,
        _READS.c.state == ReadState.PENDING.value,
    ).values(state=ReadState.DELIVERED.value, payload=null(), delivered_at=now))
    _sweep(now)
    return _poll_body(account, shelter_id, desk_id, now).body


def _poll_body(account: Principal, shelter_id: int, desk_id: str, now: datetime) -> _Poll:
    ensure_shelter_access(account, shelter_id)
    readers = db.session.execute(
        select(_READERS.c.id, _READERS.c.name, _READERS.c.desk_label, _READERS.c.paired_at, _READERS.c.last_read_at)
        .where(_READERS.c.desk_id == desk_id, _READERS.c.revoked_at.is_(None), _READERS.c.shelter_id == shelter_id)
        .order_by(_READERS.c.id)).all()
    pending = db.session.execute(
        select(_READS.c.read_id, _READS.c.reader_id, _READS.c.kind, _READS.c.payload, _READS.c.received_at)
        .where(_READS.c.desk_id == desk_id, _READS.c.state == ReadState.PENDING.value,
               _READS.c.shelter_id == shelter_id)
        .order_by(_READS.c.id).limit(MAX_READS_PER_POLL)).all()
    cutoff = now - READ_TTL
    fresh = [r for r in pending if r.received_at >= cutoff]
    stale = len(fresh) < len(pending) or db.session.scalar(select(_READS.c.id).where(
        _READS.c.state == ReadState.PENDING.value, _READS.c.received_at < cutoff).limit(1)) is not None
    reads = []
    for r in fresh:
        audit.read("person.read", subject_type="card_read", subject_id=r.read_id, shelter_id=shelter_id,
                   detail={"reader_id": r.reader_id, "type": r.kind, "purpose": "card_reader"})
        reads.append({"read_id": r.read_id, "type": r.kind, **(r.payload or {}), "received_at": _iso(r.received_at)})
    return _Poll({
        "readers": [{"id": r.id, "name": r.name, "desk_label": r.desk_label, "paired_at": _iso(r.paired_at),
                     "last_read_at": _iso(r.last_read_at)} for r in readers],
        "reads": reads,
        "poll_ms": POLL_MS if readers else 0,
    }, stale)


# --- listing and revoking --------------------------------------------------------------------------------


def _reader_payload(row: Any) -> dict[str, Any]:
    return {"id": row.id, "shelter_id": row.shelter_id, "shelter_name": row.shelter_name,
            "desk_label": row.desk_label, "name": row.name, "paired_at": _iso(row.paired_at),
            "last_read_at": _iso(row.last_read_at), "revoked_at": _iso(row.revoked_at),
            "active": row.revoked_at is None}


def _reader_rows(where: Any, limit: int) -> list[Any]:
    shelter = Shelter.__table__
    return list(db.session.execute(
        select(_READERS.c.id, _READERS.c.shelter_id, shelter.c.name.label("shelter_name"), _READERS.c.desk_label,
               _READERS.c.name, _READERS.c.paired_at, _READERS.c.last_read_at, _READERS.c.revoked_at)
        .join(shelter, shelter.c.id == _READERS.c.shelter_id).where(*where)
        .order_by(_READERS.c.revoked_at.is_not(None), shelter.c.name_kana, _READERS.c.id).limit(limit)))


@read_only
def list_readers(scope: frozenset[int] | None, *, shelter_id: int | None = None, include_revoked: bool = False,
                 limit: int = 500) -> list[dict[str, Any]]:
    """Paired readers (active first) of the shelters in `scope` (None: every shelter). No personal data."""
    where: list[Any] = []
    if scope is not None:
        where.append(_READERS.c.shelter_id.in_(sorted(scope)))
    if shelter_id is not None:
        where.append(_READERS.c.shelter_id == shelter_id)
    if not include_revoked:
        where.append(_READERS.c.revoked_at.is_(None))
    return [_reader_payload(r) for r in _reader_rows(where, limit)]


@writing
def revoke_reader(reader_id: int, *, by: Principal | None, desk_id: str | None = None) -> dict[str, Any]:
    """Revoke a reader at once: its token stops working and its undelivered reads are dropped.

    `by` None is the command line. HQ and admin revoke any reader; staff only the reader of the
    desk screen they are at (`desk_id`), at one of their shelters. Revoking twice changes nothing.
    """
    found = _reader_rows([_READERS.c.id == reader_id], 1)
    if not found:
        raise NotFound(_("カードリーダーが見つかりません"), fields={"reader_id": "unknown"})
    row = found[0]
    if by is not None and not by.sees_all:
        own_desk = db.session.scalar(select(_READERS.c.desk_id).where(_READERS.c.id == reader_id))
        if not by.can_access_shelter(row.shelter_id) or desk_id is None or desk_id != own_desk:
            audit.refused("reader.revoke", subject_type="reader", subject_id=reader_id, shelter_id=row.shelter_id)
            raise Forbidden(_("この受付画面のカードリーダーだけを解除できます"))
    if row.revoked_at is None:
        now = now_utc()
        db.session.execute(update(_READERS).where(_READERS.c.id == reader_id).values(
            revoked_at=now, revoked_by_id=by.id if by is not None else None))
        _drop_pending([reader_id])
        bump_epoch()
        audit.record("reader.revoke", subject_type="reader", subject_id=reader_id, shelter_id=row.shelter_id,
                     account_id=by.id if by is not None else None)
        row = _reader_rows([_READERS.c.id == reader_id], 1)[0]
    return _reader_payload(row)
