"""Streaming concatenation of the PDFs this package renders, into one file, in bounded memory.

Card sheets for a whole town are rendered in chunks, each chunk its own small PDF (in parallel
worker processes). This joins them page by page as they arrive: each chunk's objects are
renumbered and written straight to the output, only the page list and the object offsets are
kept, and the page tree, catalogue and cross-reference table are written at the end. A general
PDF library would hold the whole document in memory first.

It reads what reportlab writes (classic cross-reference tables, one flat or nested page tree,
no object streams) and refuses anything else. Each chunk embeds its own font subsets; their
six-letter subset tags are made unique per chunk, because reportlab starts every document at
``AAAAAA+`` and some printers cache downloaded fonts by name.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import BinaryIO

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_REF = re.compile(rb"(\d+) 0 R\b")
_STREAM = re.compile(rb">>\s*stream\r?\n")
_SUBSET_TAG = re.compile(rb"/(BaseFont|FontName) /([A-Z]{6})\+")
_TYPE_PAGES = re.compile(rb"/Type /Pages\b")
_KIDS = re.compile(rb"/Kids \[([^\]]*)\]")

PAGES_ID, CATALOG_ID, INFO_ID = 1, 2, 3


class MergeError(ValueError):
    """A chunk is not a PDF of the shape this merger understands."""


def _pdf_string(text: str) -> bytes:
    return b"(" + text.encode("latin-1", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(") \
        .replace(b")", b"\\)") + b")"


class PdfConcatenator:
    """Write PDFs (from reportlab) one after another into `out` as a single document."""

    def __init__(self, out: BinaryIO, *, title: str = "", producer: str = "evac printables") -> None:
        self._out = out
        self._title = title
        self._producer = producer
        self._pos = 0
        self._offsets: dict[int, int] = {}
        self._next_id = INFO_ID + 1
        self._pages: list[int] = []
        self._chunks = 0
        self._closed = False
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    @property
    def page_count(self) -> int:
        """Pages written so far."""
        return len(self._pages)

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._pos += len(data)

    def _tag(self, old: bytes) -> bytes:
        """A subset tag unique to this chunk: three letters for the chunk, three from the original."""
        n, letters = self._chunks, []
        for _ in range(3):
            n, r = divmod(n, 26)
            letters.append(65 + r)
        return bytes(reversed(letters)) + old[3:]

    def append(self, pdf: bytes) -> int:
        """Add every page of `pdf`, in order; returns how many pages it had."""
        if self._closed:
            raise MergeError("already closed")
        objects, root = self._parse(pdf)
        catalog = objects.get(root)
        pages_match = re.search(rb"/Pages (\d+) 0 R", catalog or b"")
        if catalog is None or pages_match is None:
            raise MergeError("no catalogue or page tree")
        pages_root = int(pages_match.group(1))
        page_ids: list[int] = []
        self._collect_pages(objects, pages_root, page_ids, depth=0)
        tree = self._tree_nodes(objects, pages_root)
        skip = tree | {root} | set(self._info_ids)
        renumber = {old: self._next_id + i for i, old in enumerate(sorted(set(objects) - skip))}
        for node in tree:
            renumber[node] = PAGES_ID  # pages hang directly off the merged tree's root
        self._next_id += len(renumber) - len(tree)

        def ref(match: re.Match[bytes]) -> bytes:
            old = int(match.group(1))
            if old not in renumber:
                raise MergeError(f"reference to object {old}, which the chunk does not hold")
            return b"%d 0 R" % renumber[old]

        for old in sorted(set(objects) - skip):
            body = objects[old]
            stream = _STREAM.search(body)
            head, tail = (body[: stream.start() + 2], body[stream.start() + 2:]) if stream else (body, b"")
            head = _REF.sub(ref, head)
            head = _SUBSET_TAG.sub(lambda m: b"/" + m.group(1) + b" /" + self._tag(m.group(2)) + b"+", head)
            new = renumber[old]
            self._offsets[new] = self._pos
            self._write(b"%d 0 obj\n" % new + head + tail + b"endobj\n")
        self._pages.extend(renumber[p] for p in page_ids)
        self._chunks += 1
        return len(page_ids)

    def _parse(self, pdf: bytes) -> tuple[dict[int, bytes], int]:
        """Object bodies (between ``N 0 obj`` and ``endobj``) by number, and the catalogue's number."""
        tail = pdf[-64:]
        match = _STARTXREF.search(tail)
        if match is None or not pdf.startswith(b"%PDF-"):
            raise MergeError("not a complete PDF")
        xref_at = int(match.group(1))
        if pdf[xref_at: xref_at + 4] != b"xref":
            raise MergeError("cross-reference streams are not supported")
        trailer_at = pdf.index(b"trailer", xref_at)
        lines = pdf[xref_at:trailer_at].split(b"\n")
        first, count = (int(v) for v in lines[1].split())
        offsets: dict[int, int] = {}
        for i, line in enumerate(lines[2: 2 + count]):
            entry = _XREF_ENTRY.match(line)
            if entry is None:
                raise MergeError("malformed cross-reference table")
            if entry.group(3) == b"n":
                offsets[first + i] = int(entry.group(1))
        trailer = pdf[trailer_at:]
        root = re.search(rb"/Root (\d+) 0 R", trailer)
        info = re.search(rb"/Info (\d+) 0 R", trailer)
        if root is None:
            raise MergeError("no /Root in the trailer")
        self._info_ids = [int(info.group(1))] if info else []
        ordered = sorted(offsets.items(), key=lambda item: item[1])
        objects: dict[int, bytes] = {}
        for i, (number, start) in enumerate(ordered):
            end = ordered[i + 1][1] if i + 1 < len(ordered) else xref_at
            chunk = pdf[start:end]
            header = b"%d 0 obj" % number
            if not chunk.startswith(header):
                raise MergeError(f"object {number} is not where the table says")
            stop = chunk.rindex(b"endobj")
            objects[number] = chunk[len(header):stop].lstrip(b"\r\n")
        return objects, int(root.group(1))

    def _tree_nodes(self, objects: dict[int, bytes], node: int) -> set[int]:
        """The /Pages nodes of the tree rooted at `node`."""
        found = {node}
        kids = _KIDS.search(objects[node])
        for kid in (int(k) for k in _REF.findall(kids.group(1) if kids else b"")):
            if _TYPE_PAGES.search(objects.get(kid, b"")):
                found |= self._tree_nodes(objects, kid)
        return found

    def _collect_pages(self, objects: dict[int, bytes], node: int, out: list[int], depth: int) -> None:
        if depth > 32:
            raise MergeError("page tree too deep")
        body = objects.get(node)
        if body is None:
            raise MergeError(f"page tree names missing object {node}")
        if not _TYPE_PAGES.search(body):
            out.append(node)
            return
        kids = _KIDS.search(body)
        for kid in (int(k) for k in _REF.findall(kids.group(1) if kids else b"")):
            self._collect_pages(objects, kid, out, depth + 1)

    def close(self) -> int:
        """Write the page tree, catalogue, document info and cross-reference table; returns pages."""
        if self._closed:
            return len(self._pages)
        self._closed = True
        kids = b" ".join(b"%d 0 R" % p for p in self._pages)
        self._offsets[PAGES_ID] = self._pos
        self._write(b"%d 0 obj\n<< /Type /Pages /Count %d /Kids [ %s ] >>\nendobj\n"
                    % (PAGES_ID, len(self._pages), kids))
        self._offsets[CATALOG_ID] = self._pos
        self._write(b"%d 0 obj\n<< /Type /Catalog /Pages %d 0 R /PageMode /UseNone >>\nendobj\n"
                    % (CATALOG_ID, PAGES_ID))
        stamp = time.strftime("D:%Y%m%d%H%M%S+00'00'", time.gmtime())
        self._offsets[INFO_ID] = self._pos
        self._write(b"%d 0 obj\n<< /Producer %s /Title %s /CreationDate %s >>\nendobj\n"
                    % (INFO_ID, _pdf_string(self._producer), _pdf_string(self._title), _pdf_string(stamp)))
        xref_at = self._pos
        size = self._next_id
        rows = [b"xref\n0 %d\n" % size, b"0000000000 65535 f\r\n"]
        for number in range(1, size):
            offset = self._offsets.get(number)
            rows.append(b"%010d 00000 n\r\n" % offset if offset is not None else b"0000000000 65535 f\r\n")
        self._write(b"".join(rows))
        digest = hashlib.md5(b"%d|%d|%s" % (size, xref_at, stamp.encode()), usedforsecurity=False).hexdigest()
        self._write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s><%s>] >>\nstartxref\n%d\n%%%%EOF\n"
                    % (size, CATALOG_ID, INFO_ID, digest.encode(), digest.encode(), xref_at))
        return len(self._pages)
