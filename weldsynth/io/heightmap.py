"""Read and write weld height maps (grayscale PNG, white = high, 0 = no data).

On read a map becomes float32 in [0, 1] (scaled by the file's bit depth) with a validity
mask (pixel != 0). On write the bit depth is kept, so an 8- or 16-bit file round-trips
bit-exactly. Every unusable file raises one :class:`~weldsynth.core.errors.HeightMapError`
subclass naming the file and what is wrong.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from weldsynth.core.atomic import atomic_write_bytes
from weldsynth.core.errors import (
    ColourImageError,
    CorruptImageError,
    MissingFileError,
    NoDataError,
    NotAnImageError,
    TinyImageError,
    TooLargeImageError,
    WeldsynthError,
)
from weldsynth.core.units import BIT_DEPTHS, from_unit_depth, is_pixel_dtype, to_unit

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_PIXELS_ENV",
    "MIN_SIDE",
    "PNG_SIGNATURE",
    "SUPPORTED_BIT_DEPTHS",
    "HeightMap",
    "decode_png",
    "encode_png",
    "heightmap_from_pixels",
    "max_pixels",
    "png_bit_depth",
    "read_heightmap",
    "to_float",
    "to_uint",
    "write_heightmap",
    "write_png",
]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MIN_SIDE = 16
"""Smallest accepted width and height in pixels; smaller maps carry no usable bead."""

SUPPORTED_BIT_DEPTHS = BIT_DEPTHS

MAX_PIXELS_ENV = "WELDSYNTH_MAX_PIXELS"
"""Environment variable that sets the largest accepted image, in pixels (width x height)."""
DEFAULT_MAX_PIXELS = 100_000_000
"""Largest accepted image when :data:`MAX_PIXELS_ENV` is not set (100 megapixels)."""


@dataclass(frozen=True)
class HeightMap:
    """A height map as read from disk.

    Attributes:
        height: float32 array (H, W) in [0, 1]; 0 means no data.
        valid: bool array (H, W), True where the scanner measured something (pixel != 0).
        bit_depth: 8 or 16, the depth of the source file (kept on write).
        path: The file it came from, if any.
    """

    height: np.ndarray
    valid: np.ndarray
    bit_depth: int
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.height.shape  # type: ignore[return-value]

    def to_uint(self) -> np.ndarray:
        """The map as integers of its own bit depth (what would be written to disk)."""
        return to_uint(self.height, self.bit_depth)


def to_uint(height: np.ndarray, bit_depth: int) -> np.ndarray:
    """Convert float heights in [0, 1] to uint8/uint16, rounding to nearest.

    Args:
        height: Float array; values outside [0, 1] are clipped.
        bit_depth: 8 or 16.

    Returns:
        uint8 or uint16 array of the same shape.
    """
    return from_unit_depth(height, bit_depth)


def to_float(pixels: np.ndarray) -> np.ndarray:
    """Convert uint8/uint16 pixels to float32 heights in [0, 1] scaled by the dtype's max."""
    if not is_pixel_dtype(pixels.dtype):
        raise TypeError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    return to_unit(pixels, np.float32)


def read_heightmap(path: str | os.PathLike[str]) -> HeightMap:
    """Read a PNG height map.

    Args:
        path: PNG file, 8- or 16-bit, grayscale (RGB with equal channels is accepted;
            an alpha channel is ignored).

    Returns:
        The :class:`HeightMap`.

    Raises:
        MissingFileError: The file does not exist.
        NotAnImageError: It is a folder or not a PNG.
        CorruptImageError: The PNG is truncated or cannot be decoded.
        ColourImageError: Its colour channels differ.
        TinyImageError: It is empty or smaller than ``MIN_SIDE`` pixels on a side.
        NoDataError: Every pixel is 0.
    """
    file = Path(path)
    if not file.exists():
        raise MissingFileError(file, "file not found")
    if not file.is_file():
        raise NotAnImageError(file, "not a file (is it a folder?)")
    data = file.read_bytes()
    pixels = decode_png(data, file)
    return heightmap_from_pixels(pixels, file)


def png_bit_depth(path: str | os.PathLike[str]) -> int:
    """The bit depth (8 or 16) a PNG decodes to, from its header alone.

    Raises:
        OSError: The file cannot be read.
        HeightMapError: It is not a PNG or its header is broken.
    """
    with open(path, "rb") as fh:
        head = fh.read(33)
    if not head.startswith(PNG_SIGNATURE):
        raise NotAnImageError(path, "not a PNG image (missing PNG signature)")
    return 16 if _read_ihdr(head, path)[2] == 16 else 8


def decode_png(data: bytes, file: str | os.PathLike[str] = "<bytes>") -> np.ndarray:
    """Decode PNG bytes to a 2-D uint8/uint16 array, checking it is a usable height map.

    Args:
        data: The file's bytes.
        file: Name used in error messages.

    Returns:
        2-D uint8 or uint16 array (the grayscale channel).
    """
    if len(data) == 0:
        raise NotAnImageError(file, "empty file (0 bytes)")
    if not data.startswith(PNG_SIGNATURE):
        raise NotAnImageError(file, "not a PNG image (missing PNG signature)")
    width, height, depth, colour_type = _read_ihdr(data, file)
    if width == 0 or height == 0:
        raise TinyImageError(file, f"empty image ({width}x{height} px)")
    limit = max_pixels()
    if width * height > limit:
        raise TooLargeImageError(
            file,
            f"header claims {width}x{height} = {width * height} pixels, more than the limit "
            f"of {limit} (set {MAX_PIXELS_ENV} to change it)",
        )
    if data.rfind(b"IEND") < 0:
        raise CorruptImageError(file, "truncated PNG (no IEND end marker)")
    if depth == 16 and colour_type in (2, 4, 6):
        pixels = _decode_with_cv2(data, file)  # PIL would reduce 16-bit colour/alpha to 8
    else:
        pixels = _decode_with_pil(data, file, depth)
    return _to_single_channel(pixels, file)


def max_pixels() -> int:
    """The largest accepted image in pixels: :data:`MAX_PIXELS_ENV`, else
    :data:`DEFAULT_MAX_PIXELS`. Checked on the PNG header, before anything is decoded.

    Raises:
        WeldsynthError: the variable is set but not a positive whole number.
    """
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    if not text.isdigit() or int(text) < 1:
        raise WeldsynthError(f"{MAX_PIXELS_ENV}={text!r}: expected a positive whole number")
    return int(text)


def heightmap_from_pixels(pixels: np.ndarray, file: Path | None = None) -> HeightMap:
    """Build a :class:`HeightMap` from decoded 2-D pixels, checking size and content."""
    name = file if file is not None else "<array>"
    h, w = pixels.shape
    if h < MIN_SIDE or w < MIN_SIDE:
        raise TinyImageError(name, f"image is {w}x{h} px, smaller than {MIN_SIDE}x{MIN_SIDE}")
    valid = pixels != 0
    if not valid.any():
        raise NoDataError(name, "all pixels are 0 (no data)")
    depth = 16 if pixels.dtype == np.uint16 else 8
    return HeightMap(height=to_float(pixels), valid=valid, bit_depth=depth, path=file)


def write_heightmap(path: str | os.PathLike[str], height: np.ndarray, bit_depth: int = 16) -> Path:
    """Write a height map as a grayscale PNG atomically (temp file + rename).

    Args:
        path: Destination file; parent folders are created.
        height: float array in [0, 1] (clipped), or uint8/uint16 pixels written as they are.
        bit_depth: 8 or 16; ignored for integer input, whose dtype decides.

    Returns:
        The written path.
    """
    if height.ndim != 2:
        raise ValueError(f"height map must be 2-D, got shape {height.shape}")
    pixels = height if height.dtype in (np.uint8, np.uint16) else to_uint(height, bit_depth)
    return write_png(path, pixels)


def encode_png(image: np.ndarray, name: str | os.PathLike[str] = "<image>") -> bytes:
    """PNG bytes of a uint8/uint16 image (gray, or BGR as OpenCV orders it)."""
    if image.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"{name}: PNG needs uint8 or uint16 pixels, got {image.dtype}")
    ok, buf = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - cv2 only fails on unsupported dtypes, checked above
        raise OSError(f"{name}: PNG encoding failed")
    return buf.tobytes()


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write a uint8/uint16 image (gray, or BGR as OpenCV orders it) as PNG, atomically."""
    return atomic_write_bytes(path, encode_png(image, path))


def _read_ihdr(data: bytes, file: str | os.PathLike[str]) -> tuple[int, int, int, int]:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise CorruptImageError(file, "truncated PNG (no IHDR header)")
    width, height, depth, colour_type = struct.unpack(">IIBB", data[16:26])
    if depth not in (1, 2, 4, 8, 16):
        raise CorruptImageError(file, f"invalid PNG bit depth {depth}")
    if depth < 8 and colour_type != 3:
        depth = 8  # low-depth grayscale is expanded to 8 bits
    return width, height, depth, colour_type


def _decode_with_pil(data: bytes, file: str | os.PathLike[str], depth: int) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                mode = im.mode
                if mode == "P":
                    im = im.convert("RGBA")
                elif mode == "1":
                    im = im.convert("L")
                arr = np.asarray(im)
    except Image.DecompressionBombError:  # PIL's own limit; ours (checked) allowed it
        return _decode_with_cv2(data, file)
    except UnidentifiedImageError as exc:
        raise NotAnImageError(file, "not a readable PNG image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImageError(file, f"truncated or corrupt PNG ({_short(exc)})") from exc
    if arr.dtype == np.int32 or mode.startswith("I"):
        arr = arr.astype(np.uint16) if depth == 16 else arr.astype(np.uint8)
    if arr.dtype not in (np.uint8, np.uint16):
        raise NotAnImageError(file, f"unsupported PNG pixel type {arr.dtype}")
    return arr


def _decode_with_cv2(data: bytes, file: str | os.PathLike[str]) -> np.ndarray:
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise CorruptImageError(file, "truncated or corrupt PNG (cannot decode)")
    if arr.ndim == 3:
        arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]] if arr.shape[2] in (3, 4) else arr
    return arr


def _to_single_channel(arr: np.ndarray, file: str | os.PathLike[str]) -> np.ndarray:
    if arr.ndim == 2:
        return np.ascontiguousarray(arr)
    if arr.ndim != 3:
        raise NotAnImageError(file, f"unexpected image shape {arr.shape}")
    channels = arr.shape[2]
    if channels == 2:  # gray + alpha
        return np.ascontiguousarray(arr[..., 0])
    colour = arr[..., :3]
    if not (
        np.array_equal(colour[..., 0], colour[..., 1])
        and np.array_equal(colour[..., 0], colour[..., 2])
    ):
        raise ColourImageError(
            file, "colour image whose channels differ; a height map must be grayscale"
        )
    return np.ascontiguousarray(colour[..., 0])


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."
