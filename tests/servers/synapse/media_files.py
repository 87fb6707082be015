"""Media files for the seed, made in memory: a PNG, a JPEG with EXIF, a
WAV and random bytes. No Pillow: the harness is standard library."""

import base64
import io
import random
import struct
import wave
import zlib


def png(w, h, seed):
    """A valid RGB PNG with a gradient (filter type 0 rows, one IDAT)."""
    r = random.Random(seed)
    base = [r.randrange(256) for _ in range(3)]
    rows = b"".join(b"\x00" + bytes(v for x in range(w)
                                    for v in ((base[0] + 3 * x) % 256, (base[1] + 3 * y) % 256,
                                              (base[2] + x * y) % 256))
                    for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


# A 32x24 baseline JPEG with EXIF (Make, Model, DateTime), made once with
# Pillow and kept here so that the seed needs no image library.
JPEG = base64.b64decode("""
/9j/4AAQSkZJRgABAQAAAQABAAD/4QBqRXhpZgAATU0AKgAAAAgAAwEPAAIAAAAVAAAAMgEQAAIA
AAAGAAAASAEyAAIAAAAUAAAATgAAAABLZWVwc2FrZSBUZXN0IENhbWVyYQAAS1RDLTEAMjAyMTow
NzoxNCAxODozMDowMAD/2wBDAAUDBAQEAwUEBAQFBQUGBwwIBwcHBw8LCwkMEQ8SEhEPERETFhwX
ExQaFRERGCEYGh0dHx8fExciJCIeJBweHx7/2wBDAQUFBQcGBw4ICA4eFBEUHh4eHh4eHh4eHh4e
Hh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh7/wAARCAAYACADASIAAhEBAxEB
/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQID
AAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RF
RkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKz
tLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEB
AQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdh
cRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldY
WVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPE
xcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwD56sNE24+T9K6W
x0Tbj5K6yw0Tbj5K2bDRNuPk/Sv0bFZx9V6/8D/O/wDXl5GRZ/zW1OesNE24+SulsNE24+SussNE
24+Stmx0Tbj5P0r0cVnH1Xr/AMD/ADv/AF5fr2RZ/wA1tTOsNE24+SulsNE24+T9KKK+a+tVI89n
tb9T+PskxlXTUu2GibcfJ+ldJY6Jtx8n6UUV+U/Wqkeez2t+p+35HjKvu6n/2Q==""")


def wav(seconds, hz, seed):
    """A mono 8 kHz 16-bit WAV: a tone with deterministic noise."""
    r = random.Random(seed)
    rate = 8000
    frames = b"".join(struct.pack("<h", int(8000 * ((i * hz // rate) % 2 * 2 - 1) + r.randint(-500, 500)))
                      for i in range(int(seconds * rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def prng_bytes(n, seed):
    return random.Random(seed).randbytes(n)
