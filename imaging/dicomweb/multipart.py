"""multipart/related (RFC 2387 over RFC 2046) for STOW-RS requests and WADO-RS responses.

The request body is first spooled to a temporary file (so its size can be checked before
anything is stored, and memory stays bounded), then the parts are found by reading it a
megabyte at a time and handed out one at a time as bytes; a part over the size limit is
handed out as its first bytes only, marked ``oversize``, so that it is refused without being
read into memory.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from django.http import HttpRequest
from django.utils.http import parse_header_parameters

CRLF = b"\r\n"
_READ_CHUNK = 1024 * 1024


class MultipartError(ValueError):
    """The request is not a readable multipart/related message; ``status`` is the HTTP answer."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# Of a part too large to be read, this much is kept: enough to name the instance it holds.
OVERSIZE_HEAD = 256 * 1024


@dataclass(frozen=True)
class Part:
    """One part: its headers and its body; for a part over the size limit, ``oversize`` is
    its size in bytes and ``body`` holds only its first :data:`OVERSIZE_HEAD` bytes."""

    headers: dict[str, str]
    body: bytes
    oversize: int = 0

    @property
    def content_type(self) -> str:
        value = self.headers.get("content-type", "")
        return parse_header_parameters(value)[0].lower() if value else ""


def media_type_params(content_type: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type value into its lower-cased media type and its parameters."""
    media_type, params = parse_header_parameters(content_type or "")
    return media_type.lower(), {k.lower(): v for k, v in params.items()}


def _body_chunks(request: HttpRequest) -> Iterator[bytes]:
    """The request body in chunks, whether framed by Content-Length or chunked encoding.

    Django reads a body only up to Content-Length. A chunked request has none: servers such as
    gunicorn decode it and mark the input as terminated (``wsgi.input_terminated``), so it is
    read to its end; a server that does neither cannot give us the body, so the client is asked
    for a Content-Length (411).
    """
    meta = request.META
    if meta.get("CONTENT_LENGTH"):
        while chunk := request.read(_READ_CHUNK):
            yield chunk
        return
    if "chunked" not in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        return  # no body at all
    if meta.get("wsgi.input_terminated"):
        raw = meta["wsgi.input"]
        while chunk := raw.read(_READ_CHUNK):
            yield chunk
        return
    raise MultipartError(
        "This server cannot read a chunked request body; send the request with a "
        "Content-Length header.",
        status=411,
    )


def spool_body(request: HttpRequest, *, limit: int) -> IO[bytes]:
    """Copy the request body into a temporary file, refusing more than ``limit`` bytes (413).

    The caller closes the returned file, which deletes it.
    """
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        raise MultipartError(_too_large(int(declared), limit), status=413)
    spool = tempfile.TemporaryFile(prefix="medassist-stow-")  # noqa: SIM115 - caller closes
    try:
        size = 0
        for chunk in _body_chunks(request):
            size += len(chunk)
            if size > limit:
                raise MultipartError(_too_large(size, limit), status=413)
            spool.write(chunk)
        spool.flush()
    except BaseException:
        spool.close()
        raise
    return spool


def _too_large(size: int, limit: int) -> str:
    return (
        f"This request is over the {limit / 2**20:.0f} MiB limit for one STOW-RS request "
        f"({size / 2**20:.1f} MiB or more); nothing was stored. Send the instances in "
        "several smaller requests."
    )


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(CRLF):
        if not line.strip():
            continue
        if line[:1] in (b" ", b"\t") and headers:
            # An obsolete folded continuation line (RFC 5322 2.2.3).
            last = next(reversed(headers))
            headers[last] += " " + line.strip().decode("latin-1")
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise MultipartError("A part of the multipart request has a malformed header line.")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def iter_parts(
    spool: IO[bytes], *, boundary: str, max_part_bytes: int | None = None
) -> Iterator[Part]:
    """Yield the parts of the multipart body held in ``spool``, in order.

    The whole structure is checked before the first part is yielded, so a malformed body
    raises MultipartError before anything has been stored. The preamble and epilogue are
    ignored; a final part without its closing delimiter is still yielded (a truncated DICOM
    file then fails on its own). A part whose body is over ``max_part_bytes`` (once decoded)
    is not read: it comes as its first bytes, with ``oversize`` set.
    """
    spool.seek(0, 2)
    if spool.tell() == 0:
        raise MultipartError("The request body is empty: it holds no DICOM instances.")
    body = _FileView(spool)
    spans = _part_spans(body, boundary.encode("latin-1"))
    for headers, start, end in spans:
        size = _decoded_size(headers, end - start)
        if max_part_bytes is not None and size > max_part_bytes:
            head = _decode(headers, body[start : min(end, start + OVERSIZE_HEAD)])
            yield Part(headers=headers, body=head, oversize=size)
            continue
        yield Part(headers=headers, body=_decode(headers, body[start:end]))


class _FileView:
    """The slicing and ``find`` of ``bytes`` over a file, read a chunk at a time.

    Unlike an ``mmap`` of the spool, scanning a large body this way never maps it into the
    process, so a request's size never shows up in its memory.
    """

    def __init__(self, fp: IO[bytes]) -> None:
        self._fp = fp
        fp.seek(0, 2)
        self._size = fp.tell()

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, span: slice) -> bytes:
        start, stop, _ = span.indices(self._size)
        if stop <= start:
            return b""
        self._fp.seek(start)
        return self._fp.read(stop - start)

    def find(self, needle: bytes, start: int = 0) -> int:
        overlap = len(needle) - 1
        pos = start
        while pos < self._size:
            self._fp.seek(pos)
            chunk = self._fp.read(_READ_CHUNK + overlap)
            found = chunk.find(needle)
            if found >= 0:
                return pos + found
            if len(chunk) <= overlap:
                return -1
            pos += len(chunk) - overlap
        return -1


def _decoded_size(headers: dict[str, str], encoded: int) -> int:
    """A part's body size once decoded (base64 takes 4 bytes for 3, plus line breaks)."""
    if headers.get("content-transfer-encoding", "").strip().lower() == "base64":
        return encoded * 3 // 4 - encoded // 77 * 2
    return encoded


def _part_spans(body: _FileView, boundary: bytes) -> list[tuple[dict[str, str], int, int]]:
    marker = b"--" + boundary
    delimiter = CRLF + marker
    if body[: len(marker)] == marker:
        pos = 0
    else:
        pos = body.find(delimiter)
        if pos < 0:
            raise MultipartError(
                "The request body does not contain the boundary named in its Content-Type "
                "header, so its parts cannot be found."
            )
        pos += 2
    spans: list[tuple[dict[str, str], int, int]] = []
    while True:
        pos += len(marker)
        if body[pos : pos + 2] == b"--":
            break  # the close delimiter
        # Transport padding may follow a delimiter, then the CRLF that ends its line.
        line_end = body.find(CRLF, pos)
        if line_end < 0:
            break  # a delimiter at the very end: no part follows
        if body[line_end + 2 : line_end + 4] == CRLF:
            headers, start = {}, line_end + 4  # a part without headers
        else:
            headers_end = body.find(CRLF + CRLF, line_end)
            if headers_end < 0:
                raise MultipartError(
                    f"Part {len(spans) + 1} of the multipart request has no end of headers."
                )
            headers = _parse_headers(body[line_end + 2 : headers_end])
            start = headers_end + 4
        end = body.find(delimiter, start)
        if end < 0:
            size = len(body)
            if body[size - 2 : size] == CRLF:
                size -= 2
            spans.append((headers, start, max(start, size)))
            break
        spans.append((headers, start, end))
        pos = end + 2
    if not spans:
        raise MultipartError("The multipart request holds no parts, so no DICOM instances.")
    return spans


def _decode(headers: dict[str, str], data: bytes) -> bytes:
    encoding = headers.get("content-transfer-encoding", "binary").strip().lower()
    if encoding == "base64":
        try:
            return base64.b64decode(data, validate=False)
        except binascii.Error:
            return b""  # an undecodable part is then refused as "not DICOM"
    return data


def new_boundary() -> str:
    return f"medassist-{uuid.uuid4().hex}"


def multipart_stream(parts: Iterable[tuple[str, bytes]], *, boundary: str) -> Iterator[bytes]:
    """Encode ``(content type, body)`` pairs as a multipart/related body, part by part."""
    for content_type, data in parts:
        yield (
            f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode("ascii")
        yield data
        yield CRLF
    yield f"--{boundary}--\r\n".encode("ascii")
