"""What one call of a defect plugin produced (:class:`DefectResult`) and its errors."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from weldsynth.core.errors import WeldsynthError
from weldsynth.synth.defects.config import DefectParams


class DefectRejectedError(WeldsynthError):
    """A rejected defect result was used as if it had produced an image."""


class NoSizeError(WeldsynthError):
    """No size in a plugin's range gives the verdict asked for on this weld (the draw is
    retried, then the variant rejected with this reason)."""


@dataclasses.dataclass(frozen=True)
class DefectResult:
    """What one call of a plugin produced.

    Attributes:
        defect: Plugin name.
        rejected: True when every draw was a no-op (or there was no bead).
        reason: Why it was rejected (None otherwise).
        params: The accepted draw (None when rejected).
        label: "bad" or "good" (None when rejected).
        tries: Number of draws made.
        height: New height map; reading it on a rejected result raises
            :class:`DefectRejectedError`.
        mask: Bool mask of changed pixels; same rule.
        verdict: The norm's verdict ("accept"/"reject") when a norm judged the draw.
        rule: Reference of the norm rule that judged it ("" without one).
        measures: The draw's measured sizes (mm when calibrated) when a norm judged it.
    """

    defect: str
    rejected: bool
    reason: str | None
    params: DefectParams | None
    label: str | None
    tries: int
    _height: np.ndarray | None = dataclasses.field(default=None, repr=False)
    _mask: np.ndarray | None = dataclasses.field(default=None, repr=False)
    verdict: str | None = None
    rule: str = ""
    measures: dict[str, float] | None = None

    @property
    def ok(self) -> bool:
        """True when the result carries a usable defect."""
        return not self.rejected

    @property
    def height(self) -> np.ndarray:
        """The defective height map (raises on a rejected result)."""
        self._require()
        return self._height  # type: ignore[return-value]

    @property
    def mask(self) -> np.ndarray:
        """Bool mask of the changed pixels (raises on a rejected result)."""
        self._require()
        return self._mask  # type: ignore[return-value]

    def _require(self) -> None:
        if self.rejected:
            raise DefectRejectedError(
                f"{self.defect}: rejected after {self.tries} draw(s) ({self.reason}); "
                "there is no defective image to use"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no arrays)."""
        out = {
            "defect": self.defect,
            "rejected": self.rejected,
            "reason": self.reason,
            "label": self.label,
            "tries": self.tries,
            "params": None if self.params is None else self.params.to_dict(),
            "changed_pixels": None if self._mask is None else int(self._mask.sum()),
        }
        if self.verdict is not None:
            out.update(verdict=self.verdict, rule=self.rule, measures=self.measures)
        return out
