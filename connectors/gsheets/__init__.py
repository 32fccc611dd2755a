"""Google Sheets through gspread and a service account."""

from connectors.gsheets.connector import GoogleSheetsConnector, response_retry_after

__all__ = ["GoogleSheetsConnector", "response_retry_after"]
