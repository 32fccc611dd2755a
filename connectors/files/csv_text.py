"""Reading CSV text so that a broken file fails loudly instead of silently losing rows.

A CSV has no checksum: one stray `"` makes the csv module read the rest of the file as a single
cell, binary bytes decode into plausible-looking rows, and a wrong encoding garbles every cell.
Any of these would turn the rows the reader never saw into deletions. So the text is checked
before it is mapped (binary content, bytes the encoding cannot decode), and while it is parsed
every record is measured in physical lines: a quoted cell that runs to the end of the file or
swallows lines shaped like rows is a broken file, not a long cell.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.spreadsheet import UnreadableRow

SAMPLE_BYTES = 1 << 16
WIDTH_SAMPLE_LINES = 200
MAX_CONTROL_SHARE = 0.01  # more C0 control characters than this in the sample means binary
CONTROL = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f]")
SIGNATURES = {
    b"PK\x03\x04": "a zip archive (an .xlsx workbook saved under a .csv name?)",
    b"\xd0\xcf\x11\xe0": "an old binary Excel (.xls) workbook",
    b"%PDF": "a PDF document",
}
BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
QUOTE_ADVICE = (
    "probably a stray '\"' — remove it, or double it ('\"\"') inside a quoted cell, and sync again"
)


class BrokenCsv(Exception):
    """The file cannot be read as a whole; `line` is where the problem starts (1-based)."""

    def __init__(self, line: int | None, problem: str, advice: str):
        super().__init__(problem)
        self.line = line
        self.problem = problem
        self.advice = advice


def bom_encoding(head: bytes) -> str | None:
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding
    return None


def ascii_compatible(encoding: str) -> bool:
    """Whether a newline byte always means a newline (so lines can be split as bytes)."""
    try:
        return "\n,;".encode(encoding) == b"\n,;" and codecs.lookup(encoding).name not in (
            "utf-16",
            "utf-32",
        )
    except (LookupError, UnicodeError):
        return False


def decode_error_line(path: Path, encoding: str) -> int | None:
    """The line holding the first byte `encoding` cannot decode (None if it cannot tell)."""
    if not ascii_compatible(encoding):
        return None
    decoder = codecs.getincrementaldecoder(encoding)()
    number = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return number
    return None


@dataclass
class TextScan:
    """What a pass over the whole file found: its physical lines (as the csv module splits)."""

    lines: int


def scan_text(path: Path, encoding: str) -> TextScan:
    """Check the file is text in `encoding`: no known binary format, NUL byte or undecodable
    byte, and no more control characters than text has. Raises BrokenCsv naming the line."""
    with path.open("rb") as handle:
        head = handle.read(8)
    for signature, what in SIGNATURES.items():
        if head.startswith(signature):
            raise BrokenCsv(1, f"the file is {what}, not CSV text", "point the source at the CSV")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise BrokenCsv(
            None, f"unknown encoding {encoding!r}", "set encoding to e.g. utf-8 or cp1252"
        ) from None
    lines = sampled = controls = 0
    try:
        with path.open(encoding=encoding, errors="strict", newline="") as handle:
            for line in handle:
                lines += 1
                if "\x00" in line:
                    raise BrokenCsv(
                        lines,
                        "binary content (a NUL byte), not CSV text",
                        "check the file is a CSV export; a UTF-16 file needs its byte-order mark "
                        "or encoding: utf-16",
                    )
                if sampled < SAMPLE_BYTES:
                    sampled += len(line)
                    controls += len(CONTROL.findall(line))
                    if sampled >= SAMPLE_BYTES or controls > 64:
                        check_controls(controls, sampled, lines)
    except UnicodeDecodeError as err:
        where = decode_error_line(path, encoding)
        raise BrokenCsv(
            where if where is not None else lines + 1,
            f"bytes that are not {encoding} text ({err.reason}, byte 0x{err.object[err.start]:02x})",
            "set the source's encoding to the one the file was saved in, or save it as UTF-8",
        ) from None
    check_controls(controls, sampled, lines)
    return TextScan(lines)


def check_controls(controls: int, sampled: int, line: int) -> None:
    if sampled and controls / sampled > MAX_CONTROL_SHARE:
        raise BrokenCsv(
            line,
            f"binary content ({controls} control characters in the first {sampled} characters)",
            "check the file is a CSV export",
        )


def typical_width(sample: str, delimiter: str) -> int:
    """The most common number of cells in the sample's non-blank lines, each read alone."""
    widths = []
    for line in sample.splitlines()[:WIDTH_SAMPLE_LINES]:
        if line.strip():
            widths.append(len(loose_cells(line, delimiter)))
    return max(set(widths), key=widths.count) if widths else 0


def loose_cells(text: str, delimiter: str) -> list[str]:
    """A line read leniently (never raises): a best guess at its cells."""
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(max(limit, len(text) + 1))
        return next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), [])
    except csv.Error:
        return text.rstrip("\r\n").split(delimiter)
    finally:
        csv.field_size_limit(limit)


class LineFeed:
    """The file's lines as the csv reader takes them, measured per record.

    It counts the physical lines of the record being read and notes the first continuation
    line that is shaped like a row of its own (as many cells as the file's rows have). The
    record's last line does not count: it carries the cells after a real multi-line cell.
    """

    def __init__(self, lines: Iterable[str], delimiter: str, width: int):
        self.lines = iter(lines)
        self.delimiter = delimiter
        self.width = width
        self.consumed = 0
        self.record_start = 1
        self.first_line = ""
        self.row_like: int | None = None

    def __iter__(self) -> LineFeed:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.consumed += 1
        if self.consumed == self.record_start:
            self.first_line = line
        elif (
            self.row_like is None
            and self.width >= 3
            and len(loose_cells(line, self.delimiter)) >= self.width
        ):
            self.row_like = self.consumed
        return line

    def next_record(self) -> None:
        self.record_start = self.consumed + 1
        self.row_like = None

    @property
    def span(self) -> int:
        return self.consumed - self.record_start + 1

    def swallowed_row(self) -> int | None:
        """A row-shaped line inside the record just read (not its last line), if any."""
        if self.row_like is not None and self.row_like < self.consumed:
            return self.row_like
        return None


def read_records(
    lines: Iterable[str], delimiter: str, width: int, expected_lines: int
) -> Iterator[Sequence[Any] | UnreadableRow]:
    """CSV records; a broken line is an UnreadableRow, a broken file raises BrokenCsv."""
    feed = LineFeed(lines, delimiter, width)
    reader = csv.reader(feed, delimiter=delimiter, strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            if feed.span > 1:
                raise BrokenCsv(
                    feed.record_start,
                    f"a quoted cell opened on this line runs over {feed.span} lines and "
                    f"cannot be read ({err})",
                    QUOTE_ADVICE,
                ) from None
            yield UnreadableRow(
                f"unreadable CSV record: {err}", loose_cells(feed.first_line, delimiter)
            )
            feed.next_record()
            continue
        if (swallowed := feed.swallowed_row()) is not None:
            raise BrokenCsv(
                feed.record_start,
                f"a quoted cell opened on this line runs over {feed.span} lines and takes in "
                f"line {swallowed}, which looks like a row of its own",
                QUOTE_ADVICE,
            )
        yield record
        feed.next_record()
    if feed.consumed != expected_lines:
        raise BrokenCsv(
            None,
            f"the reader took {feed.consumed} of the file's {expected_lines} lines "
            "(did the file change during the sync?)",
            "sync again",
        )
