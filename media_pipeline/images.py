"""Pictures: decode to check them, with a pixel limit against image bombs, and make thumbnails."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from media_pipeline.errors import InvalidMedia, MediaTooLarge

ALLOWED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass
class ImageInfo:
    """Format, MIME type and size of a decoded picture."""

    format: str
    mime: str
    width: int
    height: int


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise MediaTooLarge(f"the picture is {width}×{height} pixels, over the limit of {max_pixels:,} pixels")


def inspect(path: str, max_pixels: int) -> ImageInfo:
    """Decode the whole picture once; InvalidMedia if it is not a JPEG, PNG, WebP or GIF we can read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                # Header first: an image bomb is refused before any pixel is decoded.
                _check_pixels(im.width, im.height, max_pixels)
                if im.format not in ALLOWED:
                    raise InvalidMedia(f"pictures must be JPEG, PNG, WebP or GIF, not {im.format}")
                im.load()
                return ImageInfo(im.format, ALLOWED[im.format], im.width, im.height)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge(f"the picture is over the limit of {max_pixels:,} pixels ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise InvalidMedia("the file is not a picture that can be decoded") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidMedia(f"the picture is damaged: {exc}") from exc


def looks_like_image(path: str) -> bool:
    """True if Pillow recognises the file's header (content, not the extension)."""
    try:
        with Image.open(path):
            return True
    except Image.DecompressionBombError:
        return True  # a picture, and too big: inspect() says so
    except (UnidentifiedImageError, OSError, ValueError):
        return False


def thumbnail(path: str, size: int = 320) -> bytes:
    """A JPEG no larger than size×size, oriented by its EXIF tag."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im.thumbnail((size, size))
        if im.mode not in ("RGB", "L"):
            im = im.convert("RGB")
        out = io.BytesIO()
        im.save(out, "JPEG", quality=85)
        return out.getvalue()


def small_png(path: str, max_side: int = 256) -> tuple[bytes, int, int]:
    """The picture re-encoded as a PNG no larger than max_side×max_side (a logo): (bytes, width, height)."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im.thumbnail((max_side, max_side))
        if im.mode not in ("RGB", "RGBA", "L", "LA"):
            im = im.convert("RGBA")
        out = io.BytesIO()
        im.save(out, "PNG", optimize=True)
        return out.getvalue(), im.width, im.height


def resized(path: str, width: int, fmt: str) -> bytes:
    """The picture at most `width` pixels wide (never enlarged), as WebP or JPEG, for responsive pages."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.width > width:
            im = im.resize((width, max(1, round(im.height * width / im.width))), Image.LANCZOS)
        if im.mode not in ("RGB", "L"):
            im = im.convert("RGB")
        out = io.BytesIO()
        im.save(out, "WEBP" if fmt == "webp" else "JPEG", quality=80)
        return out.getvalue()
