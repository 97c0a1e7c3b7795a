"""The top-level boxes of an MP4/MOV file, walked before FFmpeg sees an upload, and the
refusals a clip file gets (``doorstep.errors`` subclasses with stable codes).

The walk reads box headers only: the right kind of file (or what it looks like
instead), complete (no box runs past the end), with an index (a ``moov`` box).
"""

from __future__ import annotations

from pathlib import Path

from doorstep.errors import InvalidInput, UnsupportedMedia

# First box of an ISO BMFF (MP4) or QuickTime (MOV) file.
_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"})
_MAX_TOP_LEVEL_BOXES = 10_000
# Magic numbers of files people upload by mistake, to say what the file looks like.
_KNOWN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a WAV or AVI file"),
    (b"ID3", "an MP3 audio file"),
    (b"\xff\xfb", "an MP3 audio file"),
    (b"OggS", "an Ogg file"),
    (b"fLaC", "a FLAC audio file"),
    (b"\x1a\x45\xdf\xa3", "a Matroska or WebM file"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
)


def not_a_video(reason: str) -> UnsupportedMedia:
    return UnsupportedMedia(
        f"This file is not a video we can accept: {reason}. Upload an MP4 or MOV clip.",
        code="not_a_video",
    )


def truncated(reason: str) -> InvalidInput:
    return InvalidInput(
        f"The clip is incomplete: {reason}. The upload was probably cut short; send it again.",
        code="truncated_video",
    )


def corrupt(reason: str) -> InvalidInput:
    return InvalidInput(f"The clip is damaged: {reason}.", code="corrupt_video")


def _describe(header: bytes) -> str:
    for magic, what in _KNOWN_MAGIC:
        if header.startswith(magic):
            return f"it looks like {what}"
    if header and all(32 <= b < 127 or b in b"\t\r\n" for b in header):
        return "it looks like a text file"
    return "it is not an MP4 or MOV file"


def check_boxes(path: Path, size: int) -> None:
    """Walk the top-level MP4/MOV boxes: the right kind of file, complete, with an index."""
    seen: set[bytes] = set()
    offset = 0
    with path.open("rb") as handle:
        header = handle.read(16)
        if len(header) < 8 or header[4:8] not in _FIRST_BOXES:
            raise not_a_video(_describe(header))
        for _ in range(_MAX_TOP_LEVEL_BOXES):
            if offset >= size:
                break
            handle.seek(offset)
            head = handle.read(16)
            if len(head) < 8:
                raise truncated("the file ends inside a box header")
            box_size = int.from_bytes(head[0:4], "big")
            box_type = head[4:8]
            header_len = 8
            if box_size == 1:
                if len(head) < 16:
                    raise truncated("the file ends inside a box header")
                box_size = int.from_bytes(head[8:16], "big")
                header_len = 16
            elif box_size == 0:
                box_size = size - offset
            if box_size < header_len:
                raise corrupt(f"a box at byte {offset} has an impossible size")
            if offset + box_size > size:
                what = (
                    "the video data"
                    if box_type == b"mdat"
                    else f"the '{box_type.decode('latin-1')}' box"
                )
                raise truncated(f"{what} runs past the end of the file")
            seen.add(box_type)
            offset += box_size
    if b"moov" not in seen:
        raise truncated("its index (the 'moov' box) is missing")
