"""CSV and Excel (.xlsx) sources: read the whole file each sync and map it row by row.

Files are small next to an API and carry no change feed, so every fetch is a full read that
ends with a census (deleted rows become tombstones). Rows stream through in pages, so memory
stays flat whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from connectors.base import (
    Batch,
    Census,
    ConnectorError,
    Cursor,
    Page,
    PermanentConnectorError,
    RawRecord,
    Rejection,
)
from connectors.spreadsheet import RowMapper, SheetFetchStats, UnreadableRow
from handoff.config import CsvSource, ExcelSource

PAGE_SIZE = 1000
SAMPLE_BYTES = 1 << 16
DELIMITERS = (",", ";", "\t")
FileSource = TypeVar("FileSource", CsvSource, ExcelSource)


def detect_encoding(path: Path) -> str:
    """UTF-8 with BOM, UTF-8, or else cp1252 (what Excel on Windows writes)."""
    with path.open("rb") as handle:
        if handle.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: handle.read(SAMPLE_BYTES), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def detect_delimiter(sample: str) -> str:
    """The candidate that splits the sample's lines into the most rows of one width above 1."""
    lines = sample.splitlines()[:-1] or sample.splitlines()
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        widths = [
            len(r) for r in csv.reader(lines, delimiter=delimiter) if any(c.strip() for c in r)
        ]
        if not widths:
            continue
        mode = max(set(widths), key=widths.count)
        score = (widths.count(mode) if mode > 1 else 0, mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def paged(
    items: Iterable[RawRecord | Rejection], mapper: RowMapper, cursor: Cursor
) -> Iterator[Batch]:
    """Group records into pages, pass rejections through, end with the census if complete."""
    page: list[RawRecord] = []
    for item in items:
        if isinstance(item, Rejection):
            yield item
            continue
        page.append(item)
        if len(page) >= PAGE_SIZE:
            yield Page(page)
            page = []
    if mapper.stats.sheets_read == 0 and mapper.complete:
        # no tab looked like a table (a renamed id column?): never tombstone everything for it
        yield mapper.missing_sheet(
            "(all sheets)", "no worksheet has a header row with an id column"
        )
    yield Page(page, cursor=cursor)
    if mapper.complete:
        yield Census("row", set(mapper.live_ids))


class _FileConnector(Generic[FileSource]):
    """Shared by CSV and Excel: existence checks and the fetch skeleton."""

    def __init__(self, source: FileSource):
        self.source: FileSource = source
        self.path = Path(source.path)
        self.stats = SheetFetchStats()

    def _require_file(self) -> None:
        if not self.path.is_file():
            raise PermanentConnectorError(
                f"source {self.source.name!r}: file {self.path} not found"
            )

    def _cursor(self) -> Cursor:
        return {"sha256": file_digest(self.path), "size": self.path.stat().st_size}

    def fetch(self, cursor: Cursor | None, *, full: bool = False) -> Iterator[Batch]:
        """Every fetch reads the whole file; `cursor` only records which version was read."""
        self._require_file()
        self.stats.reset()
        mapper = RowMapper(self.source, self.path.name, self.stats)
        yield from paged(self._rows(mapper), mapper, self._cursor())

    def _rows(self, mapper: RowMapper) -> Iterator[RawRecord | Rejection]:
        raise NotImplementedError


class CsvConnector(_FileConnector[CsvSource]):
    """A `.csv` file: one worksheet named after the file; encoding and delimiter detected."""

    def dialect(self) -> tuple[str, str]:
        encoding = self.source.encoding or detect_encoding(self.path)
        delimiter = self.source.delimiter
        if not delimiter:
            with self.path.open(encoding=encoding, errors="replace", newline="") as handle:
                delimiter = detect_delimiter(handle.read(SAMPLE_BYTES))
        return encoding, delimiter

    def check(self) -> str:
        self._require_file()
        encoding, delimiter = self.dialect()
        return f"{self.path.name}: {encoding}, delimiter {delimiter!r}"

    def _rows(self, mapper: RowMapper) -> Iterator[RawRecord | Rejection]:
        encoding, delimiter = self.dialect()
        with self.path.open(encoding=encoding, errors="replace", newline="") as handle:
            yield from mapper.sheet(self.path.stem, _csv_rows(handle, delimiter), required=True)


def _csv_rows(handle: Iterable[str], delimiter: str) -> Iterator[Sequence[Any] | UnreadableRow]:
    """CSV records; a record the csv module rejects becomes an UnreadableRow, not a crash."""
    reader = csv.reader(handle, delimiter=delimiter)
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield UnreadableRow(f"unreadable CSV record: {err}")


class ExcelConnector(_FileConnector[ExcelSource]):
    """A `.xlsx` workbook: the configured worksheets (all when none are named)."""

    def _open(self) -> Any:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        self._require_file()
        try:
            return openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as err:
            raise ConnectorError(
                f"source {self.source.name!r}: cannot read {self.path} as .xlsx ({err})"
            ) from None

    def check(self) -> str:
        workbook = self._open()
        try:
            return f"{self.path.name}: {len(workbook.sheetnames)} worksheet(s)"
        finally:
            workbook.close()

    def _rows(self, mapper: RowMapper) -> Iterator[RawRecord | Rejection]:
        workbook = self._open()
        try:
            names = list(self.source.sheets) or list(workbook.sheetnames)
            required = bool(self.source.sheets)
            for name in names:
                if name not in workbook.sheetnames:
                    yield mapper.missing_sheet(name, "worksheet not found in the workbook")
                    continue
                worksheet = workbook[name]
                if not hasattr(worksheet, "iter_rows"):  # a chart sheet holds no rows
                    continue
                rows = worksheet.iter_rows(min_row=1, min_col=1, values_only=True)
                yield from mapper.sheet(name, rows, required=required)
        finally:
            workbook.close()
