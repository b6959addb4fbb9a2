"""Protobuf text format (``.prototxt``) parsing into ``schema.Message`` objects, pure Python.

Grammar (the subset ``protoc`` and Caffe's ``WriteProtoToTextFile`` produce, plus common hand-written forms):
``field: scalar``, ``field: [a, b, ...]``, ``field { ... }``, ``field: { ... }`` and ``field < ... >``;
``#`` comments; optional ``,``/``;`` separators; scalars are numbers (``1``, ``-3``, ``1e-4``, ``0x1F``,
``inf``, ``nan``), identifiers (enum names, ``true``/``false``) and quoted strings with C escapes (adjacent
strings concatenate). Known fields are typed by ``schema``; unknown ones are kept as parsed (numbers
stay strings) so foreign extensions do not fail. Every error names the file and line.
"""

from __future__ import annotations

import re

import numpy as np

from ristretto_sim.io.caffe.schema import BY_NAME, ENUMS, MESSAGES, Message

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<nl>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  |
  (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?|inf(?:inity)?|nan)(?![\w.]))
  | (?P<ident>[-+]?[A-Za-z_][\w.]*) | (?P<punct>[{}<>\[\]:,;])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f",
            "v": "\v", "?": "?"}


class TextFormatError(ValueError):
    """A prototxt that does not parse; the message starts with ``line N:``."""


class _Scalar:
    """An unquoted scalar token (number or identifier) whose type is decided by the schema."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


def _unescape(body: str, line: int) -> str:
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise TextFormatError(f"line {line}: dangling backslash in string")
        e = body[i]
        if e in _ESCAPES:
            out += _ESCAPES[e].encode()
            i += 1
        elif e in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += len(m.group(0))
        elif e in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 1:])
            if not m:
                raise TextFormatError(f"line {line}: bad \\x escape in string")
            out.append(int(m.group(0), 16))
            i += 1 + len(m.group(0))
        else:
            raise TextFormatError(f"line {line}: unknown escape \\{e} in string")
    return out.decode("utf-8", errors="replace")


def _tokenize(text: str) -> list[tuple[str, object, int]]:
    tokens = []
    line = 1
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise TextFormatError(f"line {line}: unexpected character {text[pos]!r}")
        kind = m.lastgroup
        value = m.group(0)
        if kind == "nl":
            line += 1
        elif kind == "string":
            s = _unescape(value[1:-1], line)
            if tokens and tokens[-1][0] == "string":  # adjacent string literals concatenate
                tokens[-1] = ("string", tokens[-1][1] + s, tokens[-1][2])
            else:
                tokens.append(("string", s, line))
        elif kind in ("number", "ident", "punct"):
            tokens.append((kind, value, line))
        pos = m.end()
    return tokens


def _number(text: str, line: int, integer: bool):
    t = text.lower()
    if re.fullmatch(r"[-+]?[\d.][\d.e+-]*f", t):  # C-style float suffix: 2f, 1.5f
        t = t[:-1]
    try:
        if integer:
            if "x" in t:
                return int(t, 16)
            if re.fullmatch(r"[-+]?\d+", t):
                return int(t)
            raise ValueError
        if t.lstrip("+-") in ("inf", "infinity", "nan"):
            return float(t.replace("infinity", "inf"))
        if "x" in t:
            return float(int(t, 16))
        return float(t)
    except ValueError:
        what = "an integer" if integer else "a number"
        raise TextFormatError(f"line {line}: {text!r} is not {what}") from None


def _typed(value, field, line: int):
    """Convert a parsed scalar to the schema type of ``field`` (None: unknown field, keep as is)."""
    if field is None:
        return value.text if isinstance(value, _Scalar) else value
    t = field.type
    if t in ("string", "bytes"):
        if isinstance(value, _Scalar):
            raise TextFormatError(f"line {line}: field {field.name!r} expects a quoted string, got "
                                  f"{value.text}")
        return value
    if isinstance(value, str):
        raise TextFormatError(f"line {line}: field {field.name!r} ({t}) got the string {value!r}")
    text = value.text
    if t == "bool":
        low = text.lower()
        if low in ("true", "t", "1"):
            return True
        if low in ("false", "f", "0"):
            return False
        raise TextFormatError(f"line {line}: field {field.name!r} expects true/false, got {text}")
    if t.startswith("enum:"):
        table = ENUMS[t[5:]]
        if text in table.values():
            return text
        if re.fullmatch(r"-?\d+", text) and int(text) in table:
            return table[int(text)]
        raise TextFormatError(f"line {line}: {text!r} is not a value of {field.name} "
                              f"({', '.join(table.values())})")
    if t in ("float", "double"):
        return _number(text, line, integer=False)
    value = _number(text, line, integer=True)
    if t.startswith("uint") and value < 0:
        raise TextFormatError(f"line {line}: field {field.name!r} is unsigned, got {value}")
    return value


class _Parser:
    def __init__(self, tokens):
        self.tokens = tokens
        self.i = 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else ("eof", None, self.tokens[-1][2]
                                                                         if self.tokens else 1)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, value):
        kind, v, line = self.take()
        if v != value:
            raise TextFormatError(f"line {line}: expected {value!r}, got {v!r}" if kind != "eof"
                                  else f"line {line}: unexpected end of file, expected {value!r}")

    def scalar(self):
        kind, v, line = self.take()
        if kind == "string":
            return v
        if kind in ("number", "ident"):
            return _Scalar(v)
        raise TextFormatError(f"line {line}: expected a value, got {v!r}" if kind != "eof"
                              else f"line {line}: unexpected end of file, expected a value")

    def message(self, type_name: str, closing: str | None, line: int) -> Message:
        msg = Message(type_name, line)
        fields = BY_NAME.get(type_name, {})
        while True:
            kind, v, ln = self.peek()
            if kind == "eof":
                if closing is None:
                    return msg
                raise TextFormatError(f"line {ln}: unexpected end of file, {closing!r} missing for the block "
                                      f"opened on line {line}")
            if kind == "punct" and v == closing:
                self.take()
                return msg
            if kind == "punct" and v in ",;":
                self.take()
                continue
            if kind != "ident":
                raise TextFormatError(f"line {ln}: expected a field name, got {v!r}")
            self.take()
            name = v
            field = fields.get(name)
            colon = self.peek()[1] == ":"
            if colon:
                self.take()
            nk, nv, nl = self.peek()
            if nk == "punct" and nv in "{<":
                self.take()
                sub_type = field.type if field is not None and field.type in MESSAGES else \
                    (field.type if field is not None else name)
                if field is not None and field.type not in MESSAGES:
                    raise TextFormatError(f"line {nl}: field {name!r} is a {field.type}, not a message")
                msg.add(name, self.message(sub_type, "}" if nv == "{" else ">", nl))
                continue
            if not colon:
                raise TextFormatError(f"line {nl}: expected ':' or '{{' after {name!r}")
            if field is not None and field.type in MESSAGES:
                raise TextFormatError(f"line {nl}: field {name!r} is a message; write {name} {{ ... }}")
            if nk == "punct" and nv == "[":
                self.take()
                while self.peek()[1] != "]":
                    msg.add(name, _typed(self.scalar(), field, nl))
                    if self.peek()[1] == ",":
                        self.take()
                    elif self.peek()[1] != "]":
                        raise TextFormatError(f"line {self.peek()[2]}: expected ',' or ']' in the list of "
                                              f"{name!r}")
                self.take()
                continue
            msg.add(name, _typed(self.scalar(), field, nl))


def parse_text(text: str, type_name: str = "NetParameter") -> Message:
    """Parse protobuf text format into a ``Message`` of type ``type_name``.

    Raises
    ------
    TextFormatError
        With the 1-based line number of the first problem.
    """
    msg = _Parser(_tokenize(text)).message(type_name, None, 1)
    _arrays(msg)
    return msg


def _arrays(msg: Message) -> None:
    """Turn text-format ``BlobProto.data`` lists into float32 arrays, as the binary decoder produces them."""
    if msg.type_name == "BlobProto":
        for name, dtype in (("data", np.float32), ("double_data", np.float64)):
            if name in msg.fields:
                msg.fields[name] = [np.asarray(msg.fields[name], dtype=dtype)]
    for values in msg.fields.values():
        for v in values:
            if isinstance(v, Message):
                _arrays(v)
