"""Loaders for the formats beyond plain text and PDF: HTML, Word, PowerPoint, spreadsheets,
e-books, and OCR for PDF pages without a text layer. ``rag.ingest.loaders`` dispatches to them.

Every loader builds its page text with :class:`rag.ingest.formats.pagetext.PageText`, so the text a
page stores, its structural lines and the offsets chunks and citations use are one thing."""
