"""The Open Inference Protocol's binary tensor data extension (`binary_tensor_data`).

A request or response with binary tensors is a JSON object followed by the tensors' raw bytes, in
the order of the tensors in the JSON; the `Inference-Header-Content-Length` header gives the
JSON's length, and each binary tensor says how many bytes it takes in its
`parameters.binary_data_size`. Numbers are little-endian, row-major, without padding; a BYTES
element is a 4-byte little-endian length followed by the bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from service.protocol_errors import ProtocolError

EXTENSION = "binary_tensor_data"
HEADER = "Inference-Header-Content-Length"
CONTENT_TYPE = "application/octet-stream"
#: Numeric datatypes and their little-endian numpy dtypes.
NUMERIC_DTYPES = {
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    "INT8": "i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
}
_LENGTH = struct.Struct("<I")


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """(the JSON part, the binary part) of a request body; ProtocolError(400) for a bad header."""
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not text.isascii() or not text.isdigit() or int(text) > len(body):
        raise ProtocolError(
            400,
            f"{HEADER} must be the length in bytes of the JSON at the start of the body "
            f"(0 to {len(body)}), got {header_length!r:.40}",
        )
    size = int(text)
    return body[:size], body[size:]


def decode(datatype: str, raw: bytes, elements: int) -> np.ndarray:
    """`elements` numbers of a numeric `datatype` from little-endian `raw` bytes."""
    dtype = np.dtype(NUMERIC_DTYPES[datatype])
    if len(raw) != elements * dtype.itemsize:
        raise ProtocolError(
            400,
            f"binary input holds {len(raw)} bytes; {elements} {datatype} values take "
            f"{elements * dtype.itemsize}",
        )
    return np.frombuffer(raw, dtype=dtype)


def encode_numbers(values: np.ndarray, datatype: str) -> bytes:
    """The little-endian bytes of `values` as `datatype`."""
    return np.ascontiguousarray(values, dtype=NUMERIC_DTYPES[datatype]).tobytes()


def encode_strings(values: Sequence[str]) -> bytes:
    """BYTES elements: each a 4-byte little-endian length, then its UTF-8 bytes."""
    parts = []
    for value in values:
        data = value.encode()
        parts += (_LENGTH.pack(len(data)), data)
    return b"".join(parts)
