"""The benchmark's images: camera-sized JPEGs and a UI screenshot PNG, made from the photos in
../shared/images and cached (they take a few seconds to make).

A camera JPEG is a mosaic of the shared photos scaled up to a camera's resolution, with
Gaussian sensor grain (Pillow's effect_noise) added: upscaled photos alone are too smooth to
weigh what a camera's file weighs, and it is the grain that makes a real 12 MP JPEG 5-8 MB.
The grain's strength and the JPEG quality are searched until the file is within a few percent
of its target size. The screenshot is a 1920x1080 render of a logs-like UI (bars, a table of
text, a chart), saved as PNG the way screenshot tools save it.
"""

import base64
import io
import itertools
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = ROOT.parent / "shared" / "images"
SOURCES = ("hubble_deep_field.jpg", "rocket.jpg", "coffee.png", "chelsea.png", "astronaut.png")
CACHE = ROOT / "bench" / "results" / "photos"


@dataclass(frozen=True)
class Photo:
    name: str  # e.g. "jpeg-4mb"
    width: int
    height: int
    target: int  # bytes of the file (0: whatever the render weighs)
    mime: str = "image/jpeg"

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.width}x{self.height}.{self.mime.split('/')[1]}"


# Camera resolutions: a phone's shared photo, a 2 MP export, an 8 MP and a 12 MP camera.
PHOTOS = (
    Photo("jpeg-0.2mb", 1024, 768, 200_000),
    Photo("jpeg-1mb", 1600, 1200, 1_000_000),
    Photo("jpeg-4mb", 3264, 2448, 4_000_000),
    Photo("jpeg-8mb", 4000, 3000, 8_000_000),
    Photo("png-screenshot", 1920, 1080, 0, "image/png"),
)


def load(photo: Photo) -> bytes:
    """The photo's bytes, made once and cached under bench/results/photos/."""
    path = CACHE / photo.filename
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        data = screenshot(photo.width, photo.height) if photo.mime == "image/png" else camera(photo)
        path.write_bytes(data)
    return path.read_bytes()


def mosaic(width: int, height: int) -> Image.Image:
    """The shared photos tiled 3x2 and scaled (LANCZOS) to fill width x height."""
    cols, rows = 3, 2
    canvas = Image.new("RGB", (width, height))
    cell_w, cell_h = -(-width // cols), -(-height // rows)
    names = itertools.cycle(SOURCES)
    for row, col in itertools.product(range(rows), range(cols)):
        source = Image.open(SHARED_IMAGES / next(names)).convert("RGB")
        scale = max(cell_w / source.width, cell_h / source.height)
        size = (int(source.width * scale) + 1, int(source.height * scale) + 1)
        tile = source.resize(size, Image.Resampling.LANCZOS).crop((0, 0, cell_w, cell_h))
        canvas.paste(tile, (col * cell_w, row * cell_h))
    return canvas


def with_grain(image: Image.Image, sigma: float) -> Image.Image:
    """Sensor-like noise, independent per channel, centred on zero."""
    if sigma <= 0:
        return image
    channels = [Image.effect_noise(image.size, sigma) for _ in range(3)]
    noise = Image.merge("RGB", channels)
    return ImageChops.add(image, noise, offset=-128)


def jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, subsampling=1)  # 4:2:2, as cameras write
    return out.getvalue()


def camera(photo: Photo) -> bytes:
    """A JPEG at the photo's resolution within ~5 % of its target size: the least grain that
    reaches it at quality 92 (a camera's usual), then the quality that lands closest."""
    base = mosaic(photo.width, photo.height)
    best = b""
    for sigma in (0, 4, 8, 12, 16, 20, 24, 32, 40, 48, 64):
        grained = with_grain(base, sigma)
        if len(data := jpeg(grained, 92)) >= photo.target * 0.95:
            low, high = 40, 92
            best = data
            while low <= high:  # the highest quality not past the target
                mid = (low + high) // 2
                data = jpeg(grained, mid)
                if len(data) <= photo.target * 1.05:
                    best, low = data, mid + 1
                else:
                    high = mid - 1
            return best
        best = data
    return best


def screenshot(width: int, height: int) -> bytes:
    """A UI-like render: a top bar, a sidebar, a table of log lines and a bar chart."""
    image = Image.new("RGB", (width, height), (248, 249, 251))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=15)
    draw.rectangle((0, 0, width, 56), fill=(32, 41, 64))
    draw.text((24, 18), "Iris · Logs · Analytics · Configs · Prompts", fill="white", font=font)
    draw.rectangle((0, 56, 260, height), fill=(236, 239, 244))
    for i, item in enumerate(("Requests", "Images", "Feedback", "Datasets", "Settings")):
        draw.text((24, 90 + 36 * i), item, fill=(40, 40, 40), font=font)
    columns = ("time", "model", "status", "latency", "tokens", "prompt")
    for i, column in enumerate(columns):
        draw.text((290 + 170 * i, 80), column.upper(), fill=(90, 90, 90), font=font)
    for row in range(36):
        y = 110 + 26 * row
        if row % 2:
            draw.rectangle((280, y - 4, width - 460, y + 20), fill=(240, 242, 246))
        cells = (
            f"09:{row:02d}:{(row * 7) % 60:02d}",
            ("gpt-4o", "claude-sonnet", "gemini-2.5")[row % 3],
            ("200", "200", "429", "200")[row % 4],
            f"{120 + row * 37 % 900} ms",
            str(800 + row * 131 % 4000),
            f"What is in this image? Describe item {row} in detail",
        )
        for i, cell in enumerate(cells):
            colour = (200, 40, 40) if cell == "429" else (30, 30, 30)
            draw.text((290 + 170 * i, y), cell, fill=colour, font=font)
    chart_x = width - 430
    draw.text((chart_x, 80), "Requests per hour", fill=(40, 40, 40), font=font)
    for i in range(24):
        bar = 40 + (i * 53) % 280
        draw.rectangle(
            (chart_x + i * 16, 420 - bar, chart_x + i * 16 + 11, 420), fill=(70, 110, 200)
        )
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    return out.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()
