"""`evac-reader`: read cards at the desk, pair with a desk screen, deliver reads to it.

    evac-reader readers                         list the PC/SC readers
    evac-reader read --once --json              one card → one JSON object on stdout
    evac-reader pair CODE --server URL          exchange the desk's pairing code for a token
    evac-reader run                             wait for cards forever, post each read

Messages for people go to stderr, Japanese first and English after; stdout carries only reads.
Logs carry read ids and card types, never names, addresses, birth dates, UIDs or PINs.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import signal
import socket
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click

from cardreader import __version__, config, felica, pcsc
from cardreader.card import read_card
from cardreader.client import DEFAULT_RETRY_FOR, ServerClient
from cardreader.errors import (
    NoCard,
    NoReader,
    NotPaired,
    PinFormat,
    PinUnavailable,
    ReaderError,
    ReaderRevoked,
)
from cardreader.mynumber import Pin, PinProvider
from cardreader.reads import CardRead, IcRead, MyNumberRead, to_json

log = logging.getLogger("cardreader")


# -- output helpers -------------------------------------------------------------------------------

def _say(ja: str, en: str) -> None:
    """A message for the person at the desk: Japanese, then English, on stderr."""
    click.echo(ja, err=True)
    click.echo(en, err=True)


def _fail(exc: ReaderError) -> NoReturn:
    _say(exc.ja, exc.en)
    sys.exit(exc.exit_code)


def _write_stdout(text: str) -> None:
    # UTF-8 whatever the console's code page (cp932 on Japanese Windows): the JSON is for programs.
    sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
    sys.stdout.flush()


def _setup_logging(verbose: int, default: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else default
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request line at INFO; the read ids in our own lines say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


# -- the PIN ----------------------------------------------------------------------------------------

def _pin_provider(from_stdin: bool, stdin: TextIO | None = None) -> PinProvider:
    """Ask for the PIN on the terminal (not echoed), or read one line from stdin per card."""

    def ask(tries_left: int) -> Pin:
        _say(f"マイナンバーカードです。券面事項入力補助用暗証番号（4桁）を入力してください（残り {tries_left} 回）。",
             f"My Number card: type the 4-digit PIN for card-surface input support ({tries_left} tries left).")
        if from_stdin:
            line = (stdin or sys.stdin).readline()
            if not line:
                raise PinFormat()
            return Pin(line)
        if not sys.stdin.isatty():
            raise PinUnavailable()
        return Pin(getpass.getpass("暗証番号 / PIN: ", stream=sys.stderr))

    return ask


# -- sources of reads -------------------------------------------------------------------------------

class _PcscSource:
    """Cards on PC/SC readers: wait, connect, read, mark the card as served."""

    def __init__(self, reader: str | None) -> None:
        self.readers = pcsc.PcscReaders(reader)

    def next(self, ask_pin: PinProvider, timeout: float | None, keep_waiting: bool,
             handle: Callable[[CardRead], None] | None = None) -> CardRead | None:
        card = self.readers.wait_for_card(
            timeout=timeout, wait_for_reader=keep_waiting,
            on_reader_missing=_reader_missing, on_reader_back=_reader_back)
        if card is None:
            return None
        log.info("card placed on %s", card.reader)
        try:
            with self.readers.connect(card) as channel:
                read = read_card(channel, card.atr, ask_pin)
        finally:
            self.readers.served(card)
        if handle is not None:
            handle(read)
        return read

    def close(self) -> None:
        self.readers.close()


class _NfcpySource:
    """IC cards on a reader nfcpy drives (FeliCa IDm, ISO 14443 A UID)."""

    def __init__(self, device: str) -> None:
        self.reader = felica.NfcpyReader(device)

    def next(self, ask_pin: PinProvider, timeout: float | None, keep_waiting: bool,
             handle: Callable[[CardRead], None] | None = None) -> CardRead | None:
        return self.reader.next_read(timeout=timeout, handle=handle)

    def close(self) -> None:
        self.reader.close()


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _reader_missing(exc: NoReader) -> None:
    _say(f"{exc.ja} 接続されるのを待っています…", f"{exc.en} Waiting for it to be plugged in…")


def _reader_back() -> None:
    _say("カードリーダーが接続されました。", "The card reader is back.")


def _source(backend: str, reader: str | None, nfc_device: str) -> _PcscSource | _NfcpySource:
    if backend == "nfcpy":
        return _NfcpySource(nfc_device)
    return _PcscSource(reader)


def _summary(read: CardRead) -> list[tuple[str, str]]:
    if isinstance(read, MyNumberRead):
        return [("種別 / type", "マイナンバーカード / My Number card"), ("氏名 / name", read.name),
                ("住所 / address", read.address), ("生年月日 / birth date", read.birth_date),
                ("性別 / sex", read.sex)]
    assert isinstance(read, IcRead)
    return [("種別 / type", "IC カード / IC card"), ("UID", read.uid)]


# -- the commands -------------------------------------------------------------------------------------

reader_option = click.option("--reader", "reader", metavar="NAME",
                             help="PC/SC reader to use (exact name, or part of it); default: every reader.")
backend_option = click.option("--backend", type=click.Choice(["pcsc", "nfcpy"]), default="pcsc", show_default=True,
                              help="pcsc: My Number and IC cards via PC/SC; nfcpy: IC cards (FeliCa IDm) only.")
nfc_device_option = click.option("--nfc-device", default="usb", show_default=True, metavar="PATH",
                                 help="nfcpy device path (usb, usb:054c:06c1, tty:USB0, …).")
pin_stdin_option = click.option("--pin-stdin", is_flag=True,
                                help="Read the PIN from standard input (one line per card) instead of the terminal.")
config_option = click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                             help="Pairing file (default: the per-user config folder).")
ca_option = click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False),
                         help="CA certificates (PEM) to verify the server with, instead of certifi's.")


@click.group()
@click.version_option(__version__, prog_name="evac-reader")
@click.option("-v", "--verbose", count=True, help="More log lines (-vv: debug; APDU status words only).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """evac-reader: the desk's card reader for evac (My Number card 基本4情報, IC card UID)."""
    ctx.obj = {"verbose": verbose}


@cli.command("readers")
@click.pass_context
def readers_command(ctx: click.Context) -> None:
    """List the PC/SC readers, one per line (the names `--reader` takes)."""
    _setup_logging(ctx.obj["verbose"], logging.WARNING)
    try:
        source = pcsc.PcscReaders()
        for name in source.all_readers():
            click.echo(name)
        source.close()
    except ReaderError as exc:
        _fail(exc)


@cli.command("read")
@click.option("--once", is_flag=True, help="Read one card, then exit (exit code says how it went).")
@click.option("--json", "as_json", is_flag=True, help="Print each read as one JSON object (the desk's format).")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Give up when no card is placed within this time (exit code 4).")
@reader_option
@pin_stdin_option
@backend_option
@nfc_device_option
@click.pass_context
def read_command(ctx: click.Context, once: bool, as_json: bool, timeout: float | None, reader: str | None,
                 pin_stdin: bool, backend: str, nfc_device: str) -> None:
    """Wait for a card and print what was read: for checking a reader, no server needed."""
    _setup_logging(ctx.obj["verbose"], logging.WARNING)
    ask_pin = _pin_provider(pin_stdin)
    try:
        source = _source(backend, reader, nfc_device)
    except ReaderError as exc:
        _fail(exc)
    _say("カードをリーダーに置いてください。", "Place a card on the reader.")
    try:
        while True:
            try:
                read = source.next(ask_pin, timeout=timeout, keep_waiting=not once)
                if read is None:
                    raise NoCard(timeout or 0)
            except ReaderError as exc:
                if once:
                    _fail(exc)
                _say(exc.ja, exc.en)
                continue
            if as_json:
                _write_stdout(to_json(read))
            else:
                for label, value in _summary(read):
                    _write_stdout(f"{label}: {value}")
            if once:
                return
            _say("カードを離して、次のカードを置いてください。", "Lift the card; place the next one.")
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        source.close()


@cli.command("pair")
@click.argument("code")
@click.option("--server", required=True, metavar="URL", help="The evac server, e.g. https://evac.example.lg.jp")
@click.option("--name", "label", metavar="LABEL", help="How the desk lists this reader (default: this PC's name).")
@config_option
@ca_option
@click.pass_context
def pair_command(ctx: click.Context, code: str, server: str, label: str | None, config_path: Path | None,
                 ca_bundle: str | None) -> None:
    """Pair this reader with the desk screen that shows CODE; the token is stored, never shown."""
    _setup_logging(ctx.obj["verbose"], logging.WARNING)
    path = config_path or config.default_path()
    name = label or socket.gethostname()
    try:
        with ServerClient(server, ca_bundle=ca_bundle) as client:
            result = client.pair(code, name)
            pairing = config.Pairing(
                server=client.server, reader_id=result.reader_id, token=result.token,
                shelter_id=result.shelter_id, shelter_name=result.shelter_name, name=name,
                ca_bundle=str(Path(ca_bundle).resolve()) if ca_bundle else None,
                paired_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    except ReaderError as exc:
        _fail(exc)
    config.save(path, pairing)
    _say(f"ペアリングしました: {pairing.shelter_name}（リーダー番号 {pairing.reader_id}、名前「{name}」）。"
         f"設定は {path} に保存しました。`evac-reader run` で読み取りを始めます。",
         f"Paired with {pairing.shelter_name} (reader {pairing.reader_id}, named '{name}'). "
         f"Saved to {path}. Start reading with `evac-reader run`.")


@cli.command("run")
@click.option("--server", metavar="URL", help="Override the server stored at pairing.")
@config_option
@ca_option
@reader_option
@pin_stdin_option
@backend_option
@nfc_device_option
@click.option("--retry-for", type=click.FloatRange(min=0), default=DEFAULT_RETRY_FOR, show_default=True,
              metavar="SECONDS", help="How long to keep trying to deliver one read before reporting it lost.")
@click.pass_context
def run_command(ctx: click.Context, server: str | None, config_path: Path | None, ca_bundle: str | None,
                reader: str | None, pin_stdin: bool, backend: str, nfc_device: str, retry_for: float) -> None:
    """Wait for cards forever and deliver each read to the paired desk (stop with Ctrl-C)."""
    _setup_logging(ctx.obj["verbose"], logging.INFO)
    path = config_path or config.default_path()
    pairing = config.load(path)
    if pairing is None:
        _fail(NotPaired(str(path)))
    # A service manager stops us with SIGTERM: leave the loop as Ctrl-C would.
    signal.signal(signal.SIGTERM, _stop)
    ask_pin = _pin_provider(pin_stdin)
    try:
        client = ServerClient(server or pairing.server, ca_bundle=ca_bundle or pairing.ca_bundle)
        source = _source(backend, reader, nfc_device)
    except ReaderError as exc:
        _fail(exc)
    log.info("reader %s delivering to shelter %s at %s", pairing.reader_id, pairing.shelter_id, client.server)

    def deliver(read: CardRead) -> None:
        read_id = str(uuid.uuid4())
        log.info("read %s (%s) taken", read_id, read.type)
        outcome = client.deliver(pairing.token, read_id, read, retry_for=retry_for)
        if outcome.delivered:
            log.info("read %s (%s) delivered after %d attempt(s)", read_id, read.type, outcome.attempts)
            _say("受付画面に送りました。カードを離してください。", "Sent to the desk. Lift the card.")
        else:
            log.error("read %s (%s) NOT delivered after %d attempt(s): %s",
                      read_id, read.type, outcome.attempts, outcome.detail)
            _say("受付画面に送れませんでした。カードを一度離して置き直すか、受付で手入力してください。",
                 "Could not send the read to the desk. Place the card again, or enter it at the desk.")

    _say("カードをリーダーに置いてください。", "Place a card on the reader.")
    try:
        while True:
            try:
                source.next(ask_pin, timeout=None, keep_waiting=True, handle=deliver)
            except ReaderRevoked as exc:
                _fail(exc)
            except ReaderError as exc:
                log.warning("read failed: %s", type(exc).__name__)
                _say(exc.ja, exc.en)
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        source.close()
        client.close()


def main(argv: list[str] | None = None) -> Any:
    """Console entry point of `evac-reader`."""
    return cli.main(args=argv, prog_name="evac-reader")
