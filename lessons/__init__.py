"""The tutor's lesson files live here as Markdown; this file only lets them ship as package data."""
