"""Width and depth multipliers, as MobileNet, EfficientNet and Ultralytics scale a network.

- width w: every conv2d's filters f become make_divisible(w · f, 8), MobileNet's rule
  (torchvision `_make_divisible`): round w·f to the nearest multiple of 8, at least 8, and
  never more than 10% below w·f. Dense layers keep their units (the classifier's classes).
- depth d: every `repeat: n` becomes ceil(d · n) (EfficientNet's `round_repeats`); entries
  without `repeat` stay single.
Written in a spec as `scale: {width: 0.5, depth: 0.33}` or given as `--width-mult` and
`--depth-mult` (which take precedence). Both 1 (the default) leave the spec as written.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cnncli.errors import Position, SpecError
from cnncli.suggest import did_you_mean

MAX_MULT = 16.0
KEYS = ("width", "depth", "divisor")


def make_divisible(value: float, divisor: int = 8) -> int:
    """MobileNet's channel rounding: nearest multiple of `divisor`, at least `divisor`, and not
    more than 10% below `value`."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class Scale:
    """Multipliers of channels (`width`) and repeats (`depth`)."""

    width: float = 1.0
    depth: float = 1.0
    divisor: int = 8

    def channels(self, filters: int) -> int:
        """A conv's filters after the width multiplier (unchanged at width 1)."""
        return filters if self.width == 1.0 else make_divisible(self.width * filters, self.divisor)

    def repeats(self, count: int) -> int:
        """A `repeat` count after the depth multiplier: ceil(d · n), at least 1."""
        return count if self.depth == 1.0 else max(1, math.ceil(self.depth * count))

    def describe(self) -> str:
        """E.g. 'width ×0.5' or 'width ×0.5, depth ×0.33' (the multipliers other than 1)."""
        parts = [f"{name} ×{value:g}" for name, value in (("width", self.width), ("depth", self.depth)) if value != 1]
        return ", ".join(parts) or "unscaled"


def parse_scale(raw: Any, pos: Position) -> Scale:
    """The spec's `scale:` mapping: width and depth multipliers (0 < m ≤ 16), divisor (≥ 1)."""
    if not isinstance(raw, dict):
        raise SpecError(pos, "scale", f"scale is a mapping such as {{width: 0.5, depth: 0.33}}, got {raw!r}"[:200])
    for key in raw:
        if key not in KEYS:
            where = raw.key_pos.get(key, pos)  # type: ignore[attr-defined]
            raise SpecError(where, f"scale.{key}", f"unknown key '{key}' in scale{did_you_mean(key, KEYS)} "
                                                   f"(scale has: {', '.join(KEYS)})")
    values = {}
    for key in ("width", "depth"):
        value = raw.get(key, 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_MULT:
            where = raw.value_pos.get(key, pos)  # type: ignore[attr-defined]
            raise SpecError(where, f"scale.{key}", f"scale.{key} is a multiplier above 0 and at most {MAX_MULT:g}, "
                                                   f"got {value!r}"[:200])
        values[key] = float(value)
    divisor = raw.get("divisor", 8)
    if isinstance(divisor, bool) or not isinstance(divisor, int) or not 1 <= divisor <= 1024:
        raise SpecError(raw.value_pos.get("divisor", pos), "scale.divisor",  # type: ignore[attr-defined]
                        f"scale.divisor is a whole number from 1 to 1024, got {divisor!r}"[:200])
    return Scale(values["width"], values["depth"], divisor)
