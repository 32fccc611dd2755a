"""Local spreadsheet files: CSV (encoding and delimiter detected) and Excel workbooks."""

from connectors.files.connector import (
    CsvConnector,
    ExcelConnector,
    detect_delimiter,
    detect_encoding,
    paged,
)

__all__ = ["CsvConnector", "ExcelConnector", "detect_delimiter", "detect_encoding", "paged"]
