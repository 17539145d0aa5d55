"""Rendering one sample: the object (body shape, body colour, pattern, head colour) at a random
position, scale and rotation, the background tone, the optional background clutter and the pixel
noise (:func:`render_sample`)."""
import colorsys
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from .vocabulary import KNOWN_PATTERNS, KNOWN_SHAPES, PALETTE_HSV

# Shape geometry in the object frame: unit body radius, "up" is -y (towards the head).
_SHAPE_TOP = {'circle': 1.0, 'square': 0.84, 'triangle': 1.12, 'star': 1.18, 'cross': 1.0,
              'crescent': 1.0}
_STRIPE_PERIOD = 0.48   # object units (body radius = 1)
_DOT_SPACING = 0.5
_DOT_RADIUS = 0.13
_CHECK_CELL = 0.42


def _rot(deg: float) -> np.ndarray:
    t = math.radians(deg)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def _circle_pts(n: int = 48, r: float = 1.0, cx: float = 0.0, cy: float = 0.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _shape_polys(shape: str) -> List[Tuple[np.ndarray, int]]:
    """Polygons (object frame, body radius 1) with fill 255 (add) or 0 (cut out)."""
    if shape == 'circle':
        return [(_circle_pts(), 255)]
    if shape == 'square':
        a = 0.84
        return [(np.array([[-a, -a], [a, -a], [a, a], [-a, a]]), 255)]
    if shape == 'triangle':
        t = np.radians([-90, 30, 150])
        return [(1.12 * np.stack([np.cos(t), np.sin(t)], axis=1), 255)]
    if shape == 'star':
        t = np.radians(-90 + 36 * np.arange(10))
        r = np.where(np.arange(10) % 2 == 0, 1.18, 0.5)
        return [(np.stack([r * np.cos(t), r * np.sin(t)], axis=1), 255)]
    if shape == 'cross':
        w, e = 0.36, 1.0
        pts = [(-w, -e), (w, -e), (w, -w), (e, -w), (e, w), (w, w), (w, e), (-w, e), (-w, w),
               (-e, w), (-e, -w), (-w, -w)]
        return [(np.array(pts, dtype=float), 255)]
    if shape == 'crescent':
        return [(_circle_pts(), 255), (_circle_pts(r=0.8, cx=0.45), 0)]
    raise ValueError(f'shape={shape!r}: expected one of {list(KNOWN_SHAPES)}')


def _poly(draw: ImageDraw.ImageDraw, pts: np.ndarray, fill: int) -> None:
    draw.polygon([(float(x), float(y)) for x, y in pts], fill=fill)


def _pattern_mask(pattern: str, size: int, center: np.ndarray, radius: float, rot: np.ndarray,
                  phase: np.ndarray) -> Optional[Image.Image]:
    """'L' mask (0/255) of a pattern's dark marks around ``center`` (unclipped), None if plain.

    The pattern lives in the object frame (body radius 1), so it scales and rotates with the
    object; ``phase`` (two numbers in [0, 1)) shifts it.
    """
    if pattern == 'plain':
        return None
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    ext = 1.5

    def to_img(pts):
        return center + radius * (np.asarray(pts, dtype=float) @ rot.T)

    if pattern == 'stripes':
        s = _STRIPE_PERIOD
        for y in np.arange(-ext - s + phase[1] * s, ext, s):
            _poly(draw, to_img([(-ext, y), (ext, y), (ext, y + s / 2), (-ext, y + s / 2)]), 255)
    elif pattern == 'dots':
        s, r = _DOT_SPACING, _DOT_RADIUS * radius
        for row, y in enumerate(np.arange(-ext + phase[1] * s, ext, s * 0.87)):
            xs = np.arange(-ext + (s / 2) * (row % 2) + phase[0] * s, ext, s)
            for cx, cy in to_img(np.stack([xs, np.full_like(xs, y)], axis=1)):
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif pattern == 'checkered':
        s = _CHECK_CELL
        xs = np.arange(-ext + phase[0] * s - s, ext, s)
        ys = np.arange(-ext + phase[1] * s - s, ext, s)
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                if (i + j) % 2 == 0:
                    _poly(draw, to_img([(x, y), (x + s, y), (x + s, y + s), (x, y + s)]), 255)
    else:
        raise ValueError(f'pattern={pattern!r}: expected one of {list(KNOWN_PATTERNS)}')
    return img


def _body_mask(shape: str, size: int, center: np.ndarray, radius: float,
               rot: np.ndarray) -> Image.Image:
    """'L' mask (0/255) of a body shape."""
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    for pts, fill in _shape_polys(shape):
        _poly(draw, center + radius * (pts @ rot.T), fill)
    return img


def _disc_masks(size: int, center: np.ndarray, r: float,
                ring: float) -> Tuple[Image.Image, Image.Image]:
    """'L' masks (outer disc, inner disc) of a disc of radius ``r`` with an outline ``ring``."""
    masks = []
    for rad in (r, r - ring):
        img = Image.new('L', (size, size), 0)
        ImageDraw.Draw(img).ellipse([center[0] - rad, center[1] - rad,
                                     center[0] + rad, center[1] + rad], fill=255)
        masks.append(img)
    return masks[0], masks[1]


def _paint(canvas: Image.Image, mask: Image.Image, rgb: np.ndarray) -> None:
    """Set the pixels of ``canvas`` under the binary ``mask`` to ``rgb`` (only its bbox)."""
    box = mask.getbbox()
    if box is not None:
        canvas.paste(tuple(int(round(c)) for c in np.clip(rgb, 0, 255)), box, mask.crop(box))


def _body_outline(shape: str, size: int, center: np.ndarray, radius: float, rot: np.ndarray,
                  width: int) -> Optional[Image.Image]:
    """'L' mask of lines ``2 * width + 1`` pixels wide along the body's polygon edges; clipped to
    the body by :func:`_paint_patterned` it becomes an inside outline ``width`` pixels wide."""
    if width < 1:
        return None
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    for pts, _ in _shape_polys(shape):
        q = center + radius * (pts @ rot.T)
        draw.line([(float(x), float(y)) for x, y in np.concatenate([q, q[:1]])], fill=255,
                  width=2 * width + 1, joint='curve')
    return img


def _paint_patterned(canvas: Image.Image, region: Image.Image, rgb: np.ndarray,
                     pattern: Optional[Image.Image], dark: np.ndarray,
                     outline: Optional[Image.Image] = None) -> None:
    """Fill ``region`` with ``rgb``; draw the ``pattern`` marks and the ``outline`` lines, both
    clipped to the region, in ``dark``."""
    _paint(canvas, region, rgb)
    for marks in (pattern, outline):
        if marks is not None:
            _paint(canvas, ImageChops.darker(region, marks), dark)


def _paint_disc(canvas: Image.Image, center: np.ndarray, r: float, rgb: np.ndarray,
                dark: np.ndarray) -> Image.Image:
    """Draw a disc with a thin dark outline; return its 'L' mask."""
    size = canvas.size[0]
    outer, inner = _disc_masks(size, center, r, max(1.0, 0.1 * r))
    _paint(canvas, outer, dark)
    _paint(canvas, inner, rgb)
    return outer


def _jitter_rgb(name: str, p: Dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """A palette colour with per-image hue/saturation/value jitter, as RGB in [0, 255]."""
    h, s, v = PALETTE_HSV[name]
    h = (h + rng.uniform(-p['hue_jitter'], p['hue_jitter'])) % 1.0
    s = min(1.0, s * rng.uniform(1 - p['sat_jitter'], 1 + p['sat_jitter']))
    v = min(1.0, v * rng.uniform(1 - p['val_jitter'], 1 + p['val_jitter']))
    return np.array(colorsys.hsv_to_rgb(h, s, v)) * 255.0


def _dark_rgb(rng: np.random.Generator) -> np.ndarray:
    """The near-black of patterns and outlines."""
    return np.full(3, rng.uniform(20, 55)) + rng.uniform(-6, 6, size=3)


def _head_center(shape: str, center: np.ndarray, radius: float, head_scale: float,
                 rot: np.ndarray) -> np.ndarray:
    return center + rot @ np.array([0.0, -(_SHAPE_TOP[shape] + 0.6 * head_scale)]) * radius


def _object_extent(shape: str, head_scale: float, rot: np.ndarray) -> Tuple[np.ndarray, ...]:
    """Bounding box (min xy, max xy) of body + head around the centre, for body radius 1."""
    pts = np.concatenate([poly for poly, fill in _shape_polys(shape) if fill])
    head_c = _head_center(shape, np.zeros(2), 1.0, head_scale, np.eye(2))
    pts = np.concatenate([pts, _circle_pts(16, head_scale * 1.05, *head_c)]) @ rot.T
    return pts.min(axis=0), pts.max(axis=0)


def _draw_clutter(canvas: Image.Image, p: Dict[str, Any], rng: np.random.Generator,
                  obj_radius: float) -> None:
    """Paint semantic-unrelated distractors (attribute colours and forms) onto ``canvas``.

    Textured patches (a rotated rectangle or ellipse in an attribute colour carrying one of the
    patterns), then small shapes from the shape vocabulary (patterned, a quarter of them with a
    head-like disc) and lone head-like discs. All are independent of the image's class.
    """
    size = canvas.size[0]
    outline = int(round(p['outline_px'] * size / p['image_size']))
    colors = sorted(set(p['body_colors']) | set(p['head_colors']))
    shapes, patterns = p['shapes'], p['patterns']
    for _ in range(int(rng.integers(p['clutter_textures'][0], p['clutter_textures'][1] + 1))):
        c = rng.uniform(0, size, size=2)
        half = rng.uniform(0.12, 0.3, size=2) * size
        rot = _rot(rng.uniform(0, 180))
        unit = (np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
                if rng.random() < 0.5 else _circle_pts(40))
        region = Image.new('L', (size, size), 0)
        _poly(ImageDraw.Draw(region), c + (unit * half) @ rot.T, 255)
        rgb = _jitter_rgb(colors[rng.integers(len(colors))], p, rng)
        pat = _pattern_mask(patterns[rng.integers(len(patterns))], size, c,
                            obj_radius * rng.uniform(0.7, 1.2), rot, rng.random(2))
        _paint_patterned(canvas, region, rgb, pat, _dark_rgb(rng))
    for _ in range(int(rng.integers(p['clutter_shapes'][0], p['clutter_shapes'][1] + 1))):
        r = obj_radius * rng.uniform(*p['clutter_scale'])
        c = rng.uniform(0, size, size=2)
        rgb = _jitter_rgb(colors[rng.integers(len(colors))], p, rng)
        kind = rng.random()
        if kind < 0.3:  # a lone disc, the size of a head
            _paint_disc(canvas, c, r * rng.uniform(0.5, 0.9), rgb, _dark_rgb(rng))
            continue
        shape = shapes[rng.integers(len(shapes))]
        rot = _rot(rng.uniform(-180, 180))
        pat = _pattern_mask(patterns[rng.integers(len(patterns))], size, c, r, rot,
                            rng.random(2))
        _paint_patterned(canvas, _body_mask(shape, size, c, r, rot), rgb, pat, _dark_rgb(rng),
                         _body_outline(shape, size, c, r, rot, outline))
        if kind > 0.75:  # with a head of another random colour
            _paint_disc(canvas, _head_center(shape, c, r, p['head_scale'], rot),
                        p['head_scale'] * r, _jitter_rgb(colors[rng.integers(len(colors))], p,
                                                         rng), _dark_rgb(rng))


def render_sample(attributes: Dict[str, str], params: Dict[str, Any],
                  key: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Render one image and its foreground mask.

    Args:
        attributes: ``{'shape': ..., 'body_color': ..., 'pattern': ..., 'head_color': ...}``.
        params: the output of :func:`resolve_params`.
        key: integers identifying the sample (e.g. ``(class_id, image_index)``); together with
            ``params['seed']`` they seed the sample's random streams.

    Returns:
        ``(image, mask)``: uint8 [S, S, 3] RGB and bool [S, S] foreground (body + head), S =
        ``params['image_size']``. The object, mask, background tone and noise do not depend on
        ``params['clutter']``.
    """
    p = params
    ss, out = p['supersample'], p['image_size']
    size = out * ss
    key = [int(k) for k in key]
    obj_rng = np.random.default_rng([p['seed'], 1, *key])
    bg_rng = np.random.default_rng([p['seed'], 2, *key])

    # Object geometry: scale, rotation, then a position that keeps body + head inside.
    shape = attributes['shape']
    rot = _rot(obj_rng.uniform(-p['rotation_deg'], p['rotation_deg']))
    radius = obj_rng.uniform(*p['object_scale']) * size
    lo, hi = _object_extent(shape, p['head_scale'], rot)
    span_lo, span_hi = -lo * radius + ss, size - hi * radius - ss
    center = np.array([obj_rng.uniform(a, b) if b > a else (a + b) / 2
                       for a, b in zip(span_lo, span_hi)])
    body_rgb = _jitter_rgb(attributes['body_color'], p, obj_rng)
    head_rgb = _jitter_rgb(attributes['head_color'], p, obj_rng)
    dark = _dark_rgb(obj_rng)
    phase = obj_rng.random(2)

    # Background: a light, low-saturation tone (shared by both variants), then the clutter.
    tone = bg_rng.uniform(150, 215) + bg_rng.uniform(-10, 10, size=3)
    canvas = Image.new('RGB', (size, size), tuple(int(round(c)) for c in tone))
    if p['clutter']:
        _draw_clutter(canvas, p, np.random.default_rng([p['seed'], 3, *key]), radius)

    body = _body_mask(shape, size, center, radius, rot)
    _paint_patterned(canvas, body, body_rgb,
                     _pattern_mask(attributes['pattern'], size, center, radius, rot, phase), dark,
                     _body_outline(shape, size, center, radius, rot,
                                   int(round(p['outline_px'] * ss))))
    head = _paint_disc(canvas, _head_center(shape, center, radius, p['head_scale'], rot),
                       p['head_scale'] * radius, head_rgb, dark)
    alpha = ImageChops.lighter(body, head)

    if ss > 1:
        canvas, alpha = canvas.reduce(ss), alpha.reduce(ss)
    img = np.asarray(canvas, dtype=np.float64)
    mask = np.asarray(alpha) >= 128
    if p['noise_std'] > 0:
        img = img + bg_rng.normal(0.0, p['noise_std'], size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), mask
