"""Files to text, as Dify's extractors do (``core/rag/extractor``, ETL type ``dify``).

`extract_pages(extension=..., content=...)` returns a list of pages: the units Dify splits separately
(a PDF page, a spreadsheet or CSV row, a markdown section, or the whole text). The libraries for binary
formats are imported when needed: pypdf, python-docx, openpyxl.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser

# The extensions a dataset accepts (Dify's ETL "dify" list, plus json/yaml read as text).
SUPPORTED_EXTENSIONS = frozenset(
    {
        "txt",
        "text",
        "md",
        "markdown",
        "mdx",
        "html",
        "htm",
        "csv",
        "json",
        "pdf",
        "docx",
        "xlsx",
        "vtt",
        "properties",
        "yaml",
        "yml",
    }
)


class ExtractError(ValueError):
    """The file could not be read as its extension says."""


def decode_text(content: bytes) -> str:
    """Bytes to text: UTF-8 (with or without BOM), else the detected charset, else latin-1 (never fails)."""
    for encoding in ("utf-8-sig",):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(content).best()
        if best is not None:
            return str(best)
    except ImportError:  # pragma: no cover - charset-normalizer ships with requests
        pass
    return content.decode("latin-1")


def _text(content: bytes) -> list[str]:
    return [decode_text(content)]


def _markdown(content: bytes) -> list[str]:
    """Sections by header, each "header\\ncontent", as Dify's MarkdownExtractor."""
    text = decode_text(content)
    sections: list[str] = []
    header: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if re.match(r"^#+\s", line):
            if header is not None or "".join(lines).strip():
                sections.append(((header + "\n") if header else "") + "\n".join(lines).strip())
            header, lines = line.lstrip("#").strip(), []
        else:
            lines.append(line)
    if header is not None or "".join(lines).strip():
        sections.append(((header + "\n") if header else "") + "\n".join(lines).strip())
    return [s for s in sections if s.strip()] or [text]


class _TextOfHtml(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "noscript"})
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _html(content: bytes) -> list[str]:
    parser = _TextOfHtml()
    parser.feed(decode_text(content))
    parser.close()
    text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
    return [re.sub(r"\n\s*\n+", "\n\n", text).strip()]


def _csv(content: bytes) -> list[str]:
    """One page per row, "column: value; column: value", as Dify's CSVExtractor."""
    reader = csv.reader(io.StringIO(decode_text(content)))
    rows = list(reader)
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    pages = []
    for row in rows[1:]:
        pairs = [f"{name}: {value.strip()}" for name, value in zip(header, row, strict=False) if name]
        if pairs:
            pages.append("; ".join(pairs))
    return pages


def _json(content: bytes) -> list[str]:
    text = decode_text(content)
    try:
        return [json.dumps(json.loads(text), ensure_ascii=False, indent=2)]
    except ValueError:
        return [text]


def _pdf(content: bytes) -> list[str]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - a deployment without the extra
        raise ExtractError("Reading PDF files needs the pypdf package.") from exc
    try:
        reader = PdfReader(io.BytesIO(content))
        return [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ExtractError(f"The PDF file could not be read: {exc}") from exc


def _docx(content: bytes) -> list[str]:
    """Paragraphs in order, tables as markdown (Dify's WordExtractor)."""
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError as exc:  # pragma: no cover
        raise ExtractError("Reading Word files needs the python-docx package.") from exc
    try:
        document = docx.Document(io.BytesIO(content))
    except Exception as exc:  # python-docx raises several unrelated types for a broken zip
        raise ExtractError(f"The Word file could not be read: {exc}") from exc
    parts: list[str] = []
    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            parts.append(Paragraph(element, document).text)
        elif tag == "tbl":
            table = Table(element, document)
            rows = [[cell.text.strip().replace("\n", " ") for cell in row.cells] for row in table.rows]
            if rows:
                lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * len(rows[0])]
                lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
                parts.append("\n".join(lines))
    return ["\n".join(parts)]


def _xlsx(content: bytes) -> list[str]:
    """One page per row of every sheet, `"column":"value"` pairs joined by `;` (Dify's ExcelExtractor)."""
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover
        raise ExtractError("Reading Excel files needs the openpyxl package.") from exc
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # zipfile/KeyError/InvalidFileException for a broken file
        raise ExtractError(f"The Excel file could not be read: {exc}") from exc
    pages: list[str] = []
    for sheet in workbook.worksheets:
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if not header:
            continue
        names = [str(h).strip() if h is not None else "" for h in header]
        for row in rows:
            pairs = [
                f'"{name}":"{value}"'
                for name, value in zip(names, row, strict=False)
                if name and value is not None and str(value) != ""
            ]
            if pairs:
                pages.append(";".join(pairs))
    workbook.close()
    return pages


_EXTRACTORS: dict[str, Callable[[bytes], list[str]]] = {
    "md": _markdown,
    "markdown": _markdown,
    "mdx": _markdown,
    "html": _html,
    "htm": _html,
    "csv": _csv,
    "json": _json,
    "pdf": _pdf,
    "docx": _docx,
    "xlsx": _xlsx,
}


def extract_pages(*, extension: str, content: bytes) -> list[str]:
    """The pages of a file. Raises ExtractError when a file is not what its extension says."""
    return _EXTRACTORS.get(extension.lower().lstrip("."), _text)(content)
