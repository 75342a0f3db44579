"""Recipes: which defects to draw for one topology, how often, with which ranges (YAML).

A recipe is data. It is validated on load — an unknown key, a wrong type, an empty range
or an unknown defect raises one :class:`RecipeError` naming the file, the field path and
what is allowed — and the *resolved* recipe (every default filled in) is written beside
the outputs it produced.

Example (``recipes/7.yaml``)::

    topology: 7
    seed: 7
    variants: 6          # bad variants drawn per good weld
    acceptable: 1        # acceptable-cut variants per good weld (labelled good)
    norm:
      cut_accept_max: 4  # px along the bead: a cut this short is acceptable
      cut_reject_min: 10 # px: a cut this long is rejectable
    defects:
      hole: {weight: 1, params: {radius: [2, 4]}}
      cut: {weight: 1}
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from weldsynth.core.errors import WeldsynthError
from weldsynth.core.topology import UnknownTopologyError, get_topology
from weldsynth.data import recipes_dir

RECIPES_DIR = recipes_dir()
"""The recipes shipped inside the package (one per topology)."""


class RecipeError(WeldsynthError):
    """A recipe is unreadable or invalid. The message names file, field path and rule."""


class DefectEntry(BaseModel):
    """One defect of a recipe."""

    model_config = ConfigDict(extra="forbid")

    weight: float = Field(
        1.0, ge=0.0, le=1000.0, description="relative frequency among the bad variants"
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="config values overriding the plugin defaults"
    )


class Norm(BaseModel):
    """The welding norm's thresholds for this topology (sizes in pixels for now)."""

    model_config = ConfigDict(extra="forbid")

    cut_accept_max: float = Field(
        4.0, gt=0.0, le=1000.0, description="cuts at most this long (px) are acceptable: good"
    )
    cut_reject_min: float = Field(
        10.0, gt=0.0, le=1000.0, description="cuts at least this long (px) are rejectable: bad"
    )


class Recipe(BaseModel):
    """A validated recipe."""

    model_config = ConfigDict(extra="forbid")

    topology: int = Field(description="a registered topology id (weldsynth.core.topology)")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="base seed of every draw")
    variants: int = Field(6, ge=0, le=1000, description="bad variants per good weld")
    acceptable: int = Field(
        1, ge=0, le=1000, description="acceptable-cut variants per good weld (label good)"
    )
    max_tries: int = Field(
        10, ge=1, le=1000, description="draws tried before a no-op defect is rejected"
    )
    norm: Norm = Field(default_factory=Norm)
    defects: dict[str, DefectEntry] = Field(description="defect name -> weight and params")

    @field_validator("topology")
    @classmethod
    def _known_topology(cls, value: int) -> int:
        try:
            get_topology(value)
        except UnknownTopologyError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("defects")
    @classmethod
    def _known_defects(cls, value: dict[str, DefectEntry]) -> dict[str, DefectEntry]:
        from weldsynth.synth.defects import list_defects

        known = list_defects()
        for name in value:
            if name not in known:
                raise ValueError(f"unknown defect {name!r}; allowed: {', '.join(known)}")
        if value and sum(e.weight for e in value.values()) <= 0:
            raise ValueError("at least one defect needs a weight > 0")
        return value

    def check_norm(self) -> None:
        """The guard band: acceptable cuts must be strictly shorter than rejectable ones."""
        if self.norm.cut_accept_max >= self.norm.cut_reject_min:
            raise ValueError(
                f"cut_accept_max={self.norm.cut_accept_max:g} must be < cut_reject_min="
                f"{self.norm.cut_reject_min:g} (guard band between acceptable and "
                "rejectable cuts)"
            )


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe YAML file (``yaml.safe_load``).

    Raises:
        RecipeError: unreadable file, bad YAML, or invalid content (with the field path).
    """
    file = Path(path)
    if not file.is_file():
        raise RecipeError(f"{file}: recipe file not found")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RecipeError(f"{file}: not valid YAML ({_one_line(exc)})") from exc
    if not isinstance(data, dict):
        raise RecipeError(f"{file}: a recipe is a mapping of keys (topology, defects, ...)")
    return recipe_from_dict(data, source=str(file))


def recipe_from_dict(data: dict[str, Any], source: str = "<recipe>") -> Recipe:
    """Validate a recipe given as a dict; errors name ``source`` and the field path."""
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_pydantic_message(source, exc)) from None
    try:
        recipe.check_norm()
    except ValueError as exc:
        raise RecipeError(f"{source}: norm: {exc}") from None
    for name in recipe.defects:
        try:
            build_defect(recipe, name)
        except WeldsynthError as exc:
            raise RecipeError(f"{source}: defects.{name}.params: {exc}") from None
    return recipe


def recipe_for_topology(topology: int, recipes_dir: str | Path | None = None) -> Recipe:
    """Load ``<recipes_dir>/<topology>.yaml`` (default: the shipped ``recipes/``)."""
    folder = Path(recipes_dir) if recipes_dir is not None else RECIPES_DIR
    file = folder / f"{topology}.yaml"
    if not file.is_file():
        raise RecipeError(f"{file}: no recipe for topology {topology}")
    return load_recipe(file)


def defect_config(recipe: Recipe, name: str) -> dict[str, Any]:
    """The config values a recipe gives defect ``name``, norm thresholds included."""
    values = copy.deepcopy(recipe.defects[name].params)
    if name == "cut":
        values.setdefault("accept_max", recipe.norm.cut_accept_max)
        values.setdefault("reject_min", recipe.norm.cut_reject_min)
    return values


def build_defect(recipe: Recipe, name: str, **overrides: Any):  # -> Defect
    """Instantiate defect ``name`` as the recipe configures it."""
    from weldsynth.synth.defects import create_defect

    values = {**defect_config(recipe, name), **overrides}
    return create_defect(name, max_tries=recipe.max_tries, **values)


def resolved(recipe: Recipe) -> dict[str, Any]:
    """The recipe with every default filled in (what is written beside the outputs)."""
    data = recipe.model_dump(mode="json")
    for name in recipe.defects:
        data["defects"][name]["params"] = build_defect(recipe, name).config.to_dict()
    return data


def dump_yaml(data: dict[str, Any]) -> str:
    """Stable YAML text of a resolved recipe."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def _pydantic_message(source: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            parts.append(f"{loc}: unknown key")
        elif err["type"] == "missing":
            parts.append(f"{loc}: required key is missing")
        else:
            given = err.get("input")
            shown = "" if isinstance(given, (dict, list)) else f" (got {given!r})"
            msg = str(err["msg"]).removeprefix("Value error, ")
            parts.append(f"{loc}: {msg}{shown}")
    return f"{source}: " + "; ".join(parts)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
