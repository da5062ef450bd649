"""What can go wrong at the desk, each with a message in Japanese and English and an exit code.

The messages are for the person at the desk (a resident holding their card, a staff member, the
town's IT staff), so they say what to do next. None of them ever carries a PIN, a name, an address
or a birth date: the callers build them from counts and reader names only.
"""

from __future__ import annotations

from collections.abc import Sequence

# Exit codes of `evac-reader`, documented in cardreader/README.md. 1 is left to unexpected failures
# and 2 to click's usage errors.
EXIT_NO_READER = 3
EXIT_NO_CARD = 4
EXIT_WRONG_PIN = 5
EXIT_PIN_BLOCKED = 6
EXIT_CARD_REMOVED = 7
EXIT_NOT_SUPPORTED_CARD = 8
EXIT_CARD_DATA = 9
EXIT_NOT_PAIRED = 10
EXIT_SERVER = 11


class ReaderError(Exception):
    """A failure the desk must be told about: `ja` first, then `en`; `exit_code` for the CLI."""

    exit_code = 1

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(f"{ja}\n{en}")
        self.ja = ja
        self.en = en


class NoReader(ReaderError):
    """No PC/SC service, no reader plugged in, or none matching `--reader`."""

    exit_code = EXIT_NO_READER

    def __init__(self, wanted: str | None = None, available: Sequence[str] = (), detail: str = "") -> None:
        if wanted and available:
            names = ", ".join(available)
            ja = f"カードリーダー「{wanted}」が見つかりません。接続されているリーダー: {names}"
            en = f"Card reader '{wanted}' not found. Connected readers: {names}"
        elif wanted:
            ja = f"カードリーダー「{wanted}」が見つかりません。USB ケーブルを確認してください。"
            en = f"Card reader '{wanted}' not found. Check its USB cable."
        else:
            ja = "カードリーダーが見つかりません。USB ケーブルとドライバーを確認してください。"
            en = "No card reader found. Check the USB cable and the reader's driver."
        if detail:
            ja, en = f"{ja}（{detail}）", f"{en} ({detail})"
        super().__init__(ja, en)
        self.wanted = wanted
        self.available = list(available)


class NoCard(ReaderError):
    """`--timeout` passed without a card being placed on the reader."""

    exit_code = EXIT_NO_CARD

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"{seconds:g} 秒以内にカードが置かれませんでした。",
            f"No card was placed on the reader within {seconds:g} s.",
        )


class WrongPin(ReaderError):
    """The card refused the PIN; it says how many tries are left."""

    exit_code = EXIT_WRONG_PIN

    def __init__(self, tries_left: int) -> None:
        if tries_left <= 1:
            ja = (f"暗証番号が違います。残り {tries_left} 回です。カードがロックされないよう、ここではこれ以上"
                  "試しません。町役場の窓口で暗証番号を確認・再設定してください。")
            en = (f"Wrong PIN: {tries_left} try left. To keep the card from locking, no further try is made "
                  "here; please ask at the town office to reset the PIN.")
        else:
            ja = f"暗証番号が違います。残り {tries_left} 回です。カードを一度離してから置き直してください。"
            en = f"Wrong PIN: {tries_left} tries left. Lift the card and place it again to retry."
        super().__init__(ja, en)
        self.tries_left = tries_left


class PinFormat(ReaderError):
    """What was typed is not a 4-digit PIN (nothing was sent to the card)."""

    exit_code = EXIT_WRONG_PIN

    def __init__(self) -> None:
        super().__init__(
            "暗証番号は4桁の数字です（券面事項入力補助用暗証番号）。カードには何も送っていません。",
            "The PIN is 4 digits (the card-surface input-support PIN). Nothing was sent to the card.",
        )


class PinNearlyBlocked(ReaderError):
    """Only one PIN try is left: the reader refuses to spend it, so the card can never lock here."""

    exit_code = EXIT_PIN_BLOCKED

    def __init__(self, tries_left: int) -> None:
        super().__init__(
            f"暗証番号の残り回数が {tries_left} 回のため、カードがロックされないよう読み取りを中止しました。"
            "町役場の窓口で暗証番号の確認・再設定をしてください。受付は紙の避難者カードか QR カードでできます。",
            f"Only {tries_left} PIN try is left, so the reader stopped to keep the card from locking. "
            "Please ask at the town office to reset the PIN; check in with a paper evacuee card or a QR card.",
        )
        self.tries_left = tries_left


class PinBlocked(ReaderError):
    """The card's PIN is already locked (no tries left)."""

    exit_code = EXIT_PIN_BLOCKED

    def __init__(self) -> None:
        super().__init__(
            "このカードの暗証番号はロックされています。町役場の窓口でロックの解除を申請してください。",
            "This card's PIN is locked. Please ask at the town office to unlock it.",
        )


class CardRemoved(ReaderError):
    """The card left the reader before the read finished."""

    exit_code = EXIT_CARD_REMOVED

    def __init__(self) -> None:
        super().__init__(
            "読み取りの途中でカードが離されました。読み取りが終わるまでカードを置いたままにしてください。",
            "The card was lifted before the read finished. Keep it on the reader until the read is done.",
        )


class CardCommunication(ReaderError):
    """The card is on the reader but does not answer properly (badly placed, or in use elsewhere)."""

    exit_code = EXIT_CARD_REMOVED

    def __init__(self, detail: str = "") -> None:
        ja = "カードと通信できませんでした。カードを置き直してください。"
        en = "Could not talk to the card. Place it on the reader again."
        if detail:
            ja, en = f"{ja}（{detail}）", f"{en} ({detail})"
        super().__init__(ja, en)


class NotSupportedCard(ReaderError):
    """Neither a My Number card (no 券面事項入力補助AP) nor an IC card with a readable UID."""

    exit_code = EXIT_NOT_SUPPORTED_CARD

    def __init__(self, detail_ja: str = "", detail_en: str = "") -> None:
        ja = "マイナンバーカードでも、番号を読める IC カードでもありません。"
        en = "This is neither a My Number card nor an IC card whose number can be read."
        if detail_ja:
            ja = f"{ja}{detail_ja}"
        if detail_en:
            en = f"{en} {detail_en}"
        super().__init__(ja, en)


class CardData(ReaderError):
    """The 基本4情報 file did not decode (damaged card, or not the layout expected)."""

    exit_code = EXIT_CARD_DATA

    def __init__(self, detail: str) -> None:
        # `detail` names a tag or a length, never the data itself.
        super().__init__(
            f"カードの基本4情報を読み取れませんでした（{detail}）。受付は紙の避難者カードでお願いします。",
            f"The card's four basic items could not be decoded ({detail}). Please use a paper evacuee card.",
        )


class NotPaired(ReaderError):
    """`run` without a stored pairing."""

    exit_code = EXIT_NOT_PAIRED

    def __init__(self, config_path: str) -> None:
        super().__init__(
            f"このリーダーはまだ受付画面とペアリングされていません（設定ファイル {config_path}）。"
            "受付画面に表示されるコードで `evac-reader pair コード --server URL` を実行してください。",
            f"This reader is not paired with a desk yet (config {config_path}). Run "
            "`evac-reader pair CODE --server URL` with the code shown on the desk screen.",
        )


class ReaderRevoked(ReaderError):
    """The server refused the token (401/403): the reader was revoked or the token is stale."""

    exit_code = EXIT_NOT_PAIRED

    def __init__(self, status: int) -> None:
        super().__init__(
            f"サーバーがこのリーダーを受け付けません（HTTP {status}）。リーダーが無効にされた可能性があります。"
            "受付画面で新しいコードを表示し、もう一度 `evac-reader pair` を実行してください。",
            f"The server no longer accepts this reader (HTTP {status}); it may have been revoked. "
            "Show a new code on the desk screen and run `evac-reader pair` again.",
        )
        self.status = status


class PairingFailed(ReaderError):
    """The pairing code was refused, or the server could not be asked."""

    exit_code = EXIT_SERVER


class ServerUnreachable(ReaderError):
    """A network failure talking to the server (DNS, connect, TLS, timeout)."""

    exit_code = EXIT_SERVER

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(
            f"サーバー {url} に接続できませんでした（{detail}）。",
            f"Could not reach the server at {url} ({detail}).",
        )


class BadServerUrl(ReaderError):
    """A server URL that is not https (plain http is allowed to this computer only)."""

    exit_code = EXIT_SERVER

    def __init__(self, url: str) -> None:
        super().__init__(
            f"サーバーの URL は https:// で始めてください（http:// はこのパソコン自身の場合のみ）: {url}",
            f"The server URL must start with https:// (http:// only for this computer itself): {url}",
        )


class PinUnavailable(ReaderError):
    """A My Number card was placed but there is no terminal to type the PIN on."""

    exit_code = EXIT_WRONG_PIN

    def __init__(self) -> None:
        super().__init__(
            "暗証番号を入力する画面がありません。evac-reader は端末（コマンドプロンプト等）の画面で動かしてください"
            "（--pin-stdin なら標準入力から1行ずつ読みます）。カードには何も送っていません。",
            "There is no terminal to type the PIN on: run evac-reader in a terminal window "
            "(--pin-stdin reads one line per card from standard input). Nothing was sent to the card.",
        )
