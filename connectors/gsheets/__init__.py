"""Google Sheets through gspread and a service account."""

from connectors.gsheets.connector import GoogleSheetsConnector

__all__ = ["GoogleSheetsConnector"]
