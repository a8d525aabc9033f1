"""Posters drawn from a movie's slug, so the demo catalog needs no image files."""

from __future__ import annotations

import hashlib
from html import escape


def poster_svg(slug: str) -> str:
    """A 2:3 poster: a gradient picked from the slug and the title set in large type."""
    digest = hashlib.sha256(slug.encode()).digest()
    hue_a, hue_b = digest[0] * 360 // 256, digest[1] * 360 // 256
    words = escape(slug.replace("-", " ").title()).split()
    lines, line = [], ""
    for word in words:
        if len(line) + len(word) > 12 and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    text = "".join(
        f'<text x="150" y="{250 + i * 42}" text-anchor="middle">{part}</text>'
        for i, part in enumerate(lines[:4])
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 450" width="300" height="450">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="hsl({hue_a},60%,35%)"/>'
        f'<stop offset="1" stop-color="hsl({hue_b},70%,12%)"/></linearGradient></defs>'
        '<rect width="300" height="450" fill="url(#g)"/>'
        '<circle cx="150" cy="140" r="60" fill="none" stroke="#fff" stroke-opacity=".35" '
        'stroke-width="6"/>'
        '<g font-family="Georgia, serif" font-size="34" font-weight="bold" fill="#fff">'
        f"{text}</g></svg>"
    )
