"""Checkpoint paths for local file names the service would refuse.

The service accepts path segments of ``[A-Za-z0-9._-]`` that do not start with ``_`` (reserved for
its own records). Frameworks write names outside that set: PyTorch DCP's ``__0_0.distcp``,
Lightning's ``epoch=0-step=100.ckpt``. Such a segment is stored as ``-`` followed by the name with
every byte outside ``[A-Za-z0-9._]`` written as ``-HH`` (``__0_0.distcp`` -> ``-__0_0.distcp``,
``epoch=0-step=100.ckpt`` -> ``-epoch-3D0-2Dstep-3D100.ckpt``), and restored on download. Every
other segment is stored as it is, so ordinary names look the same in storage and on disk. A name
that itself starts with ``-`` is escaped too, which keeps the mapping reversible.
"""

import re

_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._")
_ALLOWED = _PLAIN | {"-"}
_CANONICAL = re.compile(r"^-(?:[A-Za-z0-9._]|-[0-9A-F]{2})+$")
_PARTS = re.compile(r"([A-Za-z0-9._])|-([0-9A-F]{2})")
ESCAPE = "-"


def encode_segment(segment):
    if segment in ("", ".", ".."):
        raise ValueError("a checkpoint path cannot contain an empty, '.' or '..' segment")
    if all(c in _ALLOWED for c in segment) and segment[0] not in "_" + ESCAPE:
        return segment
    out = [ESCAPE]
    for c in segment:
        if c in _PLAIN:
            out.append(c)
        else:
            out.extend("-%02X" % b for b in c.encode("utf-8"))
    return "".join(out)


def decode_segment(segment):
    if not segment.startswith(ESCAPE) or not _CANONICAL.match(segment):
        return segment
    data = bytearray()
    for plain, hexbyte in _PARTS.findall(segment[1:]):
        data.extend(plain.encode("ascii") if plain else bytes([int(hexbyte, 16)]))
    try:
        name = data.decode("utf-8")
    except UnicodeDecodeError:
        return segment
    # Only what encode_segment writes is decoded: another client's "-name" stays as it is.
    return name if name not in ("", ".", "..") and encode_segment(name) == segment else segment


def encode_path(path):
    """Local relative path ('/'-separated) -> checkpoint path the service accepts."""
    return "/".join(encode_segment(s) for s in path.split("/"))


def decode_path(path):
    """Checkpoint path -> the local relative path it was stored for."""
    return "/".join(decode_segment(s) for s in path.split("/"))
