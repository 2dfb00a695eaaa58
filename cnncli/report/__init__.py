"""Rendering only: tables, JSON, CSV and Markdown from an `Analysis`."""
