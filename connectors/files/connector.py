"""CSV and Excel (.xlsx) sources: read the whole file each sync and map it row by row.

Files are small next to an API and carry no change feed, so every fetch is a full read that
ends with a census (deleted rows become tombstones). Rows stream through in pages, so memory
stays flat whatever the file size. Because a census deletes whatever it does not name, it is
only taken after a clean read of everything: a file that cannot be read whole fails the
source (which keeps its last good data), and an empty file is a failure unless the source
says it may be empty.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import zipfile
import zlib
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
from connectors.files.csv_text import (
    BrokenCsv,
    bom_encoding,
    read_records,
    scan_text,
    typical_width,
)
from connectors.files.formulas import has_formulas, mark_uncached
from connectors.spreadsheet import RowMapper, SheetFetchStats
from handoff.config import CsvSource, ExcelSource

PAGE_SIZE = 1000
SAMPLE_BYTES = 1 << 16
UNREADABLE_XLSX: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    KeyError,
    OSError,
    ValueError,
    EOFError,
    SyntaxError,  # xml.etree's ParseError
    zlib.error,
)
DELIMITERS = (",", ";", "\t")
FileSource = TypeVar("FileSource", CsvSource, ExcelSource)


def detect_encoding(path: Path) -> str:
    """The encoding its byte-order mark names, UTF-8, or else cp1252 (Excel on Windows)."""
    with path.open("rb") as handle:
        if marked := bom_encoding(handle.read(4)):
            return marked
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
    """Group records into pages, pass rejections through, end with the census if complete.

    `items` must have read the whole source when it ends; a reader that cannot raises, and
    then no census is ever yielded.
    """
    page: list[RawRecord] = []
    for item in items:
        if isinstance(item, Rejection):
            yield item
            continue
        page.append(item)
        if len(page) >= PAGE_SIZE:
            yield Page(page)
            page = []
    stats = mapper.stats
    all_blank = bool(mapper.blank_sheets) and mapper.sheets_seen == len(mapper.blank_sheets)
    no_rows = stats.loaded + stats.rejected == 0 and (stats.sheets_read > 0 or all_blank)
    if no_rows and not mapper.allow_empty:
        what = "only a header row" if stats.sheets_read else "nothing in it"
        raise ConnectorError(
            f"source {mapper.source.name!r}: {mapper.origin} has no data rows ({what}); "
            "the source keeps its last data. If it is meant to be empty, "
            "set allow_empty: true on the source"
        )
    tables_missing = mapper.sheets_seen - stats.sheets_read - len(mapper.blank_sheets)
    if stats.sheets_read == 0 and mapper.complete and (tables_missing or not mapper.sheets_seen):
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
        seen = self.path.stat()  # before reading: a change made meanwhile is seen next time
        return {
            "sha256": file_digest(self.path),
            "size": seen.st_size,
            "mtime_ns": seen.st_mtime_ns,
        }

    def changed_since(self, cursor: Cursor | None) -> bool | None:
        """Whether the file differs from the one the last sync read: its modification time and
        size (no read at all); a cursor without a time falls back to the content digest.
        A missing file counts as changed, so the sync reports it."""
        if not cursor or "size" not in cursor:
            return None
        try:
            now = self.path.stat()
        except OSError:
            return True
        if now.st_size != cursor["size"]:
            return True
        if "mtime_ns" in cursor:
            return bool(now.st_mtime_ns != cursor["mtime_ns"])
        return file_digest(self.path) != cursor.get("sha256")

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

    def encoding(self) -> str:
        return str(self.source.encoding or detect_encoding(self.path))

    def dialect(self, encoding: str) -> tuple[str, int]:
        """Delimiter and the usual number of cells per line."""
        delimiter = self.source.delimiter
        with self.path.open(encoding=encoding, errors="replace", newline="") as handle:
            sample = handle.read(SAMPLE_BYTES)
        if not delimiter:
            delimiter = detect_delimiter(sample)
        return delimiter, typical_width(sample, delimiter)

    def _broken(self, err: BrokenCsv) -> ConnectorError:
        where = f"{self.path}, line {err.line}" if err.line else str(self.path)
        return ConnectorError(
            f"source {self.source.name!r}: cannot read {where}: {err.problem}. {err.advice}; "
            "until then the source keeps its last good data"
        )

    def check(self) -> str:
        self._require_file()
        encoding = self.encoding()
        try:
            scan_text(self.path, encoding)
        except BrokenCsv as err:
            raise self._broken(err) from None
        delimiter, _ = self.dialect(encoding)
        return f"{self.path.name}: {encoding}, delimiter {delimiter!r}"

    def _rows(self, mapper: RowMapper) -> Iterator[RawRecord | Rejection]:
        try:
            encoding = self.encoding()
            scan = scan_text(self.path, encoding)
            delimiter, width = self.dialect(encoding)
            with self.path.open(encoding=encoding, errors="strict", newline="") as handle:
                records = read_records(handle, delimiter, width, scan.lines)
                yield from mapper.sheet(self.path.stem, records, required=True)
        except BrokenCsv as err:
            raise self._broken(err) from None
        except UnicodeDecodeError as err:  # the file changed since it was checked
            broken = BrokenCsv(None, f"undecodable bytes ({err.reason})", "sync again")
            raise self._broken(broken) from None


class ExcelConnector(_FileConnector[ExcelSource]):
    """A `.xlsx` workbook: the configured worksheets (all when none are named)."""

    def _open(self, *, data_only: bool = True) -> Any:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        self._require_file()
        try:
            return openpyxl.load_workbook(self.path, read_only=True, data_only=data_only)
        except (*UNREADABLE_XLSX, InvalidFileException) as err:
            raise self._unreadable(err) from None

    def _guarded(self, rows: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        """The rows of a worksheet; a damaged part only shows once it is read."""
        iterator = iter(rows)
        while True:
            try:
                row = next(iterator)
            except StopIteration:
                return
            except UNREADABLE_XLSX as err:
                raise self._unreadable(err) from None
            yield row

    def _unreadable(self, err: BaseException) -> ConnectorError:
        return ConnectorError(
            f"source {self.source.name!r}: cannot read {self.path} as .xlsx "
            f"({type(err).__name__}: {err}); until it can be read the source keeps its last data"
        )

    def check(self) -> str:
        workbook = self._open()
        try:
            return f"{self.path.name}: {len(workbook.sheetnames)} worksheet(s)"
        finally:
            workbook.close()

    def _rows(self, mapper: RowMapper) -> Iterator[RawRecord | Rejection]:
        workbook = self._open()
        formulas: Any = None  # the same workbook read for its formulas, opened when needed
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
                if has_formulas(workbook, worksheet):
                    formulas = formulas or self._open(data_only=False)
                    rows = mark_uncached(rows, formulas[name].iter_rows(values_only=True))
                yield from mapper.sheet(name, self._guarded(rows), required=required)
        finally:
            workbook.close()
            if formulas is not None:
                formulas.close()
