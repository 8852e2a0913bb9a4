"""JSON-RPC 2.0 over a byte stream with LSP-style `Content-Length` framing — what vscode-jsonrpc's
StreamMessageReader/StreamMessageWriter speak:

    Content-Length: 57\r\n
    \r\n
    {"jsonrpc":"2.0","id":1,"method":"run/status","params":null}

Only the transport: serve.py holds the methods."""

from __future__ import annotations

import json
import threading
from typing import Any, BinaryIO


class FramingError(Exception):
    pass


def read_message(stream: BinaryIO) -> dict | None:
    """The next message, or None at the end of the stream."""
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            if length is None:
                continue  # stray blank line between messages
            break
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise FramingError(f"bad Content-Length header: {line!r}") from None
    body = b""
    while len(body) < length:
        chunk = stream.read(length - len(body))
        if not chunk:
            return None
        body += chunk
    try:
        msg = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FramingError(f"message body is not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise FramingError("message body is not a JSON object")
    return msg


def encode_message(msg: dict) -> bytes:
    from .run.writer import json_safe  # NaN → null, numpy/torch → plain values, as the run files

    body = json.dumps(json_safe(msg), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body


class MessageWriter:
    """Thread-safe: the training thread sends notifications while the reader thread answers requests."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, msg: dict) -> None:
        data = encode_message({"jsonrpc": "2.0", **msg})
        with self.lock:
            try:
                self.stream.write(data)
                self.stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the client is gone; the run still ends cleanly (serve.py stops it on end of input)

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def respond(self, id_: Any, result: Any) -> None:
        self.send({"id": id_, "result": result})

    def error(self, id_: Any, code: int, message: str, data: Any = None) -> None:
        err: dict = {"code": code, "message": message}
        if data is not None:
            err["data"] = data
        self.send({"id": id_, "error": err})
