"""What every file importer shares: the report it returns and the refusal it raises.

Importers are all-or-nothing: they check every row first, and a file with any bad row is
refused whole, naming each bad line and field, with nothing stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evac.common.errors import ValidationFailed

MAX_REPORTED_ERRORS = 50


@dataclass(frozen=True)
class RowError:
    """One problem in one row: 1-based line number in the file, the column, what is wrong."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.line}行目 {self.field}: {self.message}"


class ImportRefused(ValidationFailed):
    """The file was refused whole; `errors` says where and why."""

    code = "import_refused"

    def __init__(self, message: str, errors: list[RowError] | None = None) -> None:
        self.errors = errors or []
        shown = self.errors[:MAX_REPORTED_ERRORS]
        super().__init__(
            message,
            fields={"rows": [{"line": e.line, "field": e.field, "message": e.message} for e in shown]},
        )

    def __str__(self) -> str:
        lines = [self.message, *(str(e) for e in self.errors[:MAX_REPORTED_ERRORS])]
        if len(self.errors) > MAX_REPORTED_ERRORS:
            lines.append(f"… ほか {len(self.errors) - MAX_REPORTED_ERRORS} 件")
        return "\n".join(lines)


@dataclass
class ImportReport:
    """What an import did."""

    format: str  # e.g. "GSI 指定避難所 CSV"
    encoding: str  # e.g. "CP932 (Shift_JIS)"
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the operator."""
        return (f"{self.format} / {self.encoding}: "
                f"追加 added {self.added}, 更新 updated {self.updated}, 変更なし unchanged {self.unchanged}")
