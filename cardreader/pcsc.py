"""PC/SC readers through pyscard: Sony PaSoRi RC-S300/S380 (with its PC/SC driver) and any other.

One `PcscReaders` watches the readers (all, or those matching `--reader`), waits for a card,
connects to it exclusively and resets it on disconnect, so a verified PIN never outlives the read.
A reader unplugged, or the PC/SC service stopping (Windows stops it when the last reader goes;
pcscd may be restarted), is reported as `NoReader`; the caller decides whether to wait for it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from cardreader.apdu import Response, split_response
from cardreader.errors import CardCommunication, CardRemoved, NoReader

log = logging.getLogger(__name__)

try:  # pyscard is the optional extra `reader`: its absence is reported, not a crash at import.
    from smartcard import scard
except ImportError:  # pragma: no cover - exercised on machines without pyscard
    scard = None


def _u32(code: int) -> int:
    return code & 0xFFFFFFFF


# The service or the reader went away (pcscd stopped, USB unplugged, Windows stopped the service).
_GONE = set() if scard is None else {_u32(c) for c in (
    scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_NO_READERS_AVAILABLE,
    scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE, scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_F_COMM_ERROR,
)}
_CARD_GONE = set() if scard is None else {_u32(c) for c in (
    scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_RESET_CARD,
    scard.SCARD_W_UNPOWERED_CARD,
)}
_POLL_MS = 500


@dataclass(frozen=True)
class PresentCard:
    """A card that has just been placed on `reader`, with its ATR."""

    reader: str
    atr: bytes


def available() -> str | None:
    """Why PC/SC cannot be used here, or None when pyscard is importable."""
    if scard is None:
        return "pyscard is not installed (pip install 'evac[reader]')"
    return None


def _error_name(code: int) -> str:
    if scard is not None:
        for name in dir(scard):
            if name.startswith(("SCARD_E_", "SCARD_W_", "SCARD_F_")) and _u32(getattr(scard, name)) == _u32(code):
                return name
    return f"0x{_u32(code):08X}"


class PcscReaders:
    """The PC/SC readers this program watches: those whose name contains `wanted`, or all."""

    def __init__(self, wanted: str | None = None) -> None:
        if scard is None:
            raise NoReader(detail=available() or "")
        self.wanted = wanted
        self._context: int | None = None
        self._states: dict[str, int] = {}
        # Readers whose card has been read (or refused) and not lifted yet, with the event count
        # seen then: the same card lying on the reader is never read twice.
        self._served: dict[str, int] = {}

    # -- context and reader list -------------------------------------------------------------

    def _ctx(self) -> int:
        if self._context is None:
            rv, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if rv != scard.SCARD_S_SUCCESS:
                raise NoReader(self.wanted, detail=_error_name(rv))
            self._context = context
        return self._context

    def close(self) -> None:
        """Release the PC/SC context (a new one is made on the next call)."""
        if self._context is not None:
            with contextlib.suppress(Exception):
                scard.SCardReleaseContext(self._context)
            self._context = None
            self._states.clear()

    def _drop(self) -> None:
        # After the service restarts, the old context is dead on every platform: start afresh.
        self.close()

    def all_readers(self) -> list[str]:
        """Every reader the PC/SC service knows, or NoReader when there is none or no service."""
        rv, readers = scard.SCardListReaders(self._ctx(), [])
        if _u32(rv) in _GONE or not readers:
            self._drop()
            raise NoReader(self.wanted, detail=_error_name(rv) if rv else "")
        if rv != scard.SCARD_S_SUCCESS:
            self._drop()
            raise NoReader(self.wanted, detail=_error_name(rv))
        return list(readers)

    def readers(self) -> list[str]:
        """The readers watched: all, or those whose name contains `--reader` (case-insensitive)."""
        names = self.all_readers()
        if not self.wanted:
            return names
        exact = [n for n in names if n == self.wanted]
        matching = exact or [n for n in names if self.wanted.casefold() in n.casefold()]
        if not matching:
            raise NoReader(self.wanted, names)
        return matching

    # -- waiting for a card ------------------------------------------------------------------

    def wait_for_card(
        self,
        timeout: float | None = None,
        wait_for_reader: bool = False,
        on_reader_missing: Callable[[NoReader], None] | None = None,
        on_reader_back: Callable[[], None] | None = None,
    ) -> PresentCard | None:
        """Block until a card is placed (or is already lying) on a watched reader.

        Returns None when `timeout` seconds pass. Without `wait_for_reader`, a missing reader
        raises NoReader at once; with it, `on_reader_missing` is called once per outage and the
        readers are looked for again every second until they come back.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        missing = False
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                return None
            try:
                readers = self.readers()
            except NoReader as exc:
                if not wait_for_reader:
                    raise
                if not missing and on_reader_missing is not None:
                    on_reader_missing(exc)
                missing = True
                time.sleep(1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic())))
                continue
            if missing:
                missing = False
                if on_reader_back is not None:
                    on_reader_back()
            for gone in set(self._states) - set(readers):
                del self._states[gone]
            ms = _POLL_MS if deadline is None else max(0, min(_POLL_MS, int((deadline - time.monotonic()) * 1000)))
            query = [(r, self._states.get(r, scard.SCARD_STATE_UNAWARE)) for r in readers]
            rv, result = scard.SCardGetStatusChange(self._ctx(), ms, query)
            if _u32(rv) == _u32(scard.SCARD_E_TIMEOUT):
                continue
            if rv != scard.SCARD_S_SUCCESS:
                # Service stopped or a reader vanished between list and wait: look again.
                log.debug("SCardGetStatusChange: %s", _error_name(rv))
                if _u32(rv) in _GONE:
                    self._drop()
                continue
            found = self._examine(result)
            if found is not None:
                return found

    def _examine(self, result: list[tuple[str, int, list[int]]]) -> PresentCard | None:
        for reader, event, atr in result:
            self._states[reader] = event & ~scard.SCARD_STATE_CHANGED
            if event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                self._served.pop(reader, None)
                continue
            count = (event >> 16) & 0xFFFF
            present = bool(event & scard.SCARD_STATE_PRESENT)
            if not present:
                self._served.pop(reader, None)
                continue
            if reader in self._served and self._served[reader] != count:
                # Lifted and placed again between two looks: a new card (or the same one, anew).
                del self._served[reader]
            if reader in self._served:
                continue
            if event & scard.SCARD_STATE_MUTE:
                log.warning("card on %s does not answer (no ATR); lift it and place it again", reader)
                self._served[reader] = count
                continue
            return PresentCard(reader, bytes(atr))
        return None

    def served(self, card: PresentCard) -> None:
        """Mark the card on `card.reader` as read: it is not offered again until it is lifted."""
        event = self._states.get(card.reader, 0)
        self._served[card.reader] = (event >> 16) & 0xFFFF

    def card_present(self, reader: str) -> bool | None:
        """Whether a card lies on `reader` now; None when the reader or service is gone."""
        try:
            rv, result = scard.SCardGetStatusChange(self._ctx(), 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        except NoReader:
            return None
        if rv != scard.SCARD_S_SUCCESS:
            return None
        event = result[0][1]
        if event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
            return None
        return bool(event & scard.SCARD_STATE_PRESENT)

    def card_left(self, reader: str, settle: float = 2.0) -> bool:
        """After a failed exchange: did the card leave? The service notices within a poll or two."""
        deadline = time.monotonic() + settle
        while True:
            present = self.card_present(reader)
            if present is False:
                return True
            if present is None or time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    # -- talking to the card -----------------------------------------------------------------

    @contextlib.contextmanager
    def connect(self, card: PresentCard) -> Iterator[PcscChannel]:
        """Connect exclusively to the card; reset it on the way out (the PIN state goes with it)."""
        rv, handle, protocol = scard.SCardConnect(
            self._ctx(), card.reader, scard.SCARD_SHARE_EXCLUSIVE,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if rv != scard.SCARD_S_SUCCESS:
            if _u32(rv) in _CARD_GONE:
                raise CardRemoved()
            if _u32(rv) in _GONE:
                self._drop()
                raise NoReader(self.wanted, detail=_error_name(rv))
            raise CardCommunication(_error_name(rv))
        channel = PcscChannel(self, card.reader, handle, protocol)
        try:
            yield channel
        finally:
            with contextlib.suppress(Exception):
                scard.SCardDisconnect(handle, scard.SCARD_RESET_CARD)


class PcscChannel:
    """A connected card: one APDU in, one response out."""

    def __init__(self, readers: PcscReaders, reader: str, handle: int, protocol: int) -> None:
        self._readers = readers
        self.reader = reader
        self._handle = handle
        self._protocol = protocol

    def transmit(self, apdu: bytes) -> Response:
        """Send `apdu`; a failure is reported as the card lifted, or as a communication error."""
        rv, response = scard.SCardTransmit(self._handle, self._protocol, list(apdu))
        if rv == scard.SCARD_S_SUCCESS and len(response) >= 2:
            return split_response(response)
        # Raised fresh (never chained): the command, which may hold the PIN, stays out of it.
        code = _u32(rv)
        if code in _CARD_GONE or self._readers.card_left(self.reader):
            raise CardRemoved()
        if code in _GONE:
            raise NoReader(self._readers.wanted, detail=_error_name(rv))
        raise CardCommunication(_error_name(rv))
