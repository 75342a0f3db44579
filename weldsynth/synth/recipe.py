"""Recipes: which defects to draw for one topology, how often, with which ranges (YAML).

A recipe is data. It is validated on load — an unknown key, a wrong type, an empty range
or an unknown defect raises one :class:`RecipeError` naming the file, the field path and
what is allowed — and the *resolved* recipe (every default filled in) is written beside
the outputs it produced.

Example (``recipes/7.yaml``, abridged)::

    topology: 7
    seed: 7
    variants: 6          # bad variants drawn per good weld
    acceptable: 1        # acceptable variants per good weld (labelled good)
    norm: {...}          # thresholds, keys from the defect plugins (recipe show lists them)
    defects:
      hole: {weight: 1, params: {radius: [2, 4]}}
      cut: {weight: 1}

Defect knowledge stays in the plugins: a plugin's ``norm_keys`` name the ``norm`` keys it
reads (``check_norm`` their rules), and ``acceptable_variant`` says whether it draws the
``acceptable`` variants. With no such plugin in ``defects``, ``acceptable`` defaults to 0
(nothing to draw) and an explicit ``acceptable`` > 0 is refused.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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


NORM_BOUNDS = (0.0, 1000.0)
"""Every norm value v must satisfy lo < v <= hi (sizes in pixels for now)."""


class Norm(BaseModel):
    """The welding norm's thresholds for this topology (sizes in pixels for now).

    The keys are those the defect plugins declare (``Defect.norm_keys``); a key not given
    takes the default of the config field it sets. Values are read as attributes
    (``recipe.norm.<key>``) or with ``model_dump()``.
    """

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _plugin_keys(cls, data: Any) -> dict[str, float]:
        if not isinstance(data, dict):
            raise ValueError("must be a mapping of norm keys to numbers")
        from weldsynth.synth.norm.judge import SETTINGS_KEYS

        defaults = norm_defaults()
        unknown = sorted(set(data) - set(defaults) - set(SETTINGS_KEYS))
        if unknown:
            known = ", ".join([*defaults, *SETTINGS_KEYS])
            raise ValueError(f"unknown key {unknown[0]!r}; known: {known}")
        lo, hi = NORM_BOUNDS
        values: dict[str, Any] = {k: data[k] for k in SETTINGS_KEYS if k in data}
        for key, default in defaults.items():
            value = data.get(key, default)
            if not _is_number(value) or not lo < value <= hi:
                raise ValueError(f"{key}={value!r} must be a number > {lo:g} and <= {hi:g}")
            values[key] = float(value)
        return values

    @model_validator(mode="after")
    def _plugin_rules(self) -> Norm:
        from weldsynth.synth.norm import NormError
        from weldsynth.synth.recipe_norm import norm_settings

        values = self.model_dump()
        for plugin in _norm_plugins():
            plugin.check_norm(values)
        try:
            norm_settings(values)
        except NormError as exc:
            raise ValueError(str(exc).removeprefix("norm.")) from None
        return self


def _norm_plugins() -> list[Any]:  # -> list[type[Defect]]
    from weldsynth.synth.defects import get_defect, list_defects

    return [get_defect(n) for n in list_defects() if get_defect(n).norm_keys]


def norm_defaults() -> dict[str, float]:
    """Every norm key the registered plugins read, with its default (plugin order)."""
    defaults: dict[str, float] = {}
    for plugin in _norm_plugins():
        fields = {spec["name"]: spec["default"] for spec in plugin.Config.describe()}
        for key, field in plugin.norm_keys.items():
            defaults.setdefault(key, float(fields[field]))
    return defaults


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Recipe(BaseModel):
    """A validated recipe."""

    model_config = ConfigDict(extra="forbid")

    topology: int = Field(description="a registered topology id (weldsynth.core.topology)")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="base seed of every draw")
    variants: int = Field(6, ge=0, le=1000, description="bad variants per good weld")
    acceptable: int = Field(
        1,
        ge=0,
        le=1000,
        description="acceptable variants per good weld (label good), drawn by the defects "
        "that have them; none there: defaults to 0",
    )
    max_tries: int = Field(
        10, ge=1, le=1000, description="draws tried before a no-op defect is rejected"
    )
    norm: Norm = Field(default_factory=Norm)
    scan: dict[str, Any] | None = Field(
        None,
        description="scan calibration used when an input has no sidecar or scan.yaml and "
        "no --scan is given (pixel_mm, height_mm... see weldsynth.io.calibration)",
    )
    clutter: Literal["none", "realistic", "heavy"] | None = Field(
        None, description="clutter on each good weld before its variants (samples --clutter)"
    )
    defects: dict[str, DefectEntry] = Field(description="defect name -> weight and params")

    @field_validator("scan")
    @classmethod
    def _valid_scan(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from weldsynth.io.calibration import CalibrationError, calibration_from_mapping

        if value is not None:
            try:
                calibration_from_mapping(value, "scan")
            except CalibrationError as exc:
                raise ValueError(str(exc).removeprefix("scan: ")) from None
        return value

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
    except UnicodeDecodeError as exc:
        raise RecipeError(
            f"{file}: not a text file (byte {exc.start} is not UTF-8); a recipe is YAML"
        ) from exc
    if not isinstance(data, dict):
        raise RecipeError(f"{file}: a recipe is a mapping of keys (topology, defects, ...)")
    return recipe_from_dict(data, source=str(file))


def recipe_from_dict(data: dict[str, Any], source: str = "<recipe>") -> Recipe:
    """Validate a recipe given as a dict; errors name ``source`` and the field path."""
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_pydantic_message(source, exc)) from None
    _settle_acceptable(recipe, source)
    from weldsynth.synth.recipe_norm import check_recipe_norm

    check_recipe_norm(recipe, source, build_defect, RecipeError)
    for name in recipe.defects:  # every plugin generate will build, so generate runs
        for verdict in (None, *variant_verdicts(recipe, name)):
            try:
                if verdict is None:
                    build_defect(recipe, name)
                else:
                    variant_defect(recipe, name, verdict)
            except WeldsynthError as exc:
                where = _build_context(recipe, name, verdict)
                raise RecipeError(f"{source}: defects.{name}.params: {exc}{where}") from None
    return recipe


def _settle_acceptable(recipe: Recipe, source: str) -> None:
    """No defect of the recipe draws acceptable variants: the default ``acceptable``
    becomes 0; an explicit ``acceptable`` > 0 is refused."""
    if recipe.acceptable == 0 or acceptable_defects(recipe):
        return
    if "acceptable" in recipe.model_fields_set:
        from weldsynth.synth.defects import get_defect, list_defects

        able = [n for n in list_defects() if get_defect(n).acceptable_variant]
        raise RecipeError(
            f"{source}: acceptable: {recipe.acceptable} acceptable variants per good weld "
            f"asked for, but no defect under defects draws them (those that do: "
            f"{', '.join(able) or 'none'}); add one or set acceptable: 0"
        )
    recipe.acceptable = 0


def _build_context(recipe: Recipe, name: str, verdict: str | None) -> str:
    """Where a failing config came from: the variants it was built for, the norm keys."""
    from weldsynth.synth.defects import get_defect

    parts = []
    if verdict is not None:
        parts.append(f" (building the {'acceptable' if verdict == 'accept' else 'bad'} variants)")
    given = recipe.defects[name].params
    keys = get_defect(name).norm_keys
    from_norm = [f"{field} from norm.{key}" for key, field in keys.items() if field not in given]
    if from_norm:
        parts.append(f"; {', '.join(from_norm)}")
    return "".join(parts)


def recipe_for_topology(topology: int, recipes_dir: str | Path | None = None) -> Recipe:
    """Load ``<recipes_dir>/<topology>.yaml`` (default: the shipped ``recipes/``)."""
    folder = Path(recipes_dir) if recipes_dir is not None else RECIPES_DIR
    file = folder / f"{topology}.yaml"
    if not file.is_file():
        raise RecipeError(f"{file}: no recipe for topology {topology}")
    return load_recipe(file)


def defect_config(recipe: Recipe, name: str) -> dict[str, Any]:
    """The config values a recipe gives defect ``name``, norm thresholds included."""
    from weldsynth.synth.defects import get_defect

    values = copy.deepcopy(recipe.defects[name].params)
    for field, value in get_defect(name).norm_config(recipe.norm.model_dump()).items():
        values.setdefault(field, value)
    return values


def build_defect(recipe: Recipe, name: str, calibration: Any = "recipe", **overrides: Any):
    """Instantiate defect ``name`` as the recipe configures it, judged by its norm.

    Args:
        recipe: The recipe.
        name: The defect.
        calibration: The map's :class:`~weldsynth.io.calibration.Calibration` (None:
            uncalibrated); "recipe" (the default, for checks and listings): the recipe's
            ``scan:`` section, else a stand-in for the maps' own calibrations.
        **overrides: Config values replacing the recipe's.
    """
    from weldsynth.synth.defects import create_defect, get_defect
    from weldsynth.synth.recipe_norm import (
        bind,
        judged_in_mm,
        norm_settings,
        recipe_level,
        split_params,
    )

    settings = norm_settings(recipe.norm.model_dump())
    judge_cal, size_cal = recipe_level(recipe.scan, settings, calibration)
    where = f"defects.{name}.params"
    values, share = split_params(get_defect(name), defect_config(recipe, name), size_cal, where)
    if judged_in_mm(get_defect(name), settings, judge_cal):
        values = get_defect(name).judged_config(values)
    plugin = create_defect(name, max_tries=recipe.max_tries, **{**values, **overrides})
    if share is not None:
        plugin.share_acceptable = share
    return bind(plugin, settings, judge_cal)


def acceptable_defects(recipe: Recipe, calibration: Any = "recipe") -> list[str]:
    """The recipe's defects that draw acceptable (good-labelled) variants, sorted: without
    ``norm.preset`` those with acceptable draws (the cut); under a norm those modelling an
    imperfection with a finite limit, unless their ``p_acceptable`` is 0."""
    from weldsynth.synth.defects import get_defect
    from weldsynth.synth.recipe_norm import norm_settings

    if norm_settings(recipe.norm.model_dump()) is None:
        return sorted(n for n in recipe.defects if get_defect(n).acceptable_variant)
    out = []
    for name in recipe.defects:
        try:
            plugin = build_defect(recipe, name, calibration)
        except WeldsynthError:
            continue  # a bad config is reported by the recipe check, naming its field
        if plugin.draws_acceptable() and plugin.share_acceptable != 0:
            out.append(name)
    return sorted(out)


def variant_verdicts(recipe: Recipe, name: str) -> list[str]:
    """The verdicts generate draws defect ``name`` for: "reject" when it is among the bad
    variants (weight > 0), "accept" when it draws the acceptable variants."""
    verdicts = []
    if recipe.variants and recipe.defects[name].weight > 0:
        verdicts.append("reject")
    if recipe.acceptable and name in acceptable_defects(recipe):
        verdicts.append("accept")
    return verdicts


def variant_defect(recipe: Recipe, name: str, verdict: str, calibration: Any = "recipe"):
    """Defect ``name`` as the recipe configures it, drawing only ``verdict`` draws
    ("reject": bad variants, "accept": acceptable variants); the recipe's counts, not the
    plugin's own mix, decide how many of each. ``calibration``: as in :func:`build_defect`."""
    return build_defect(recipe, name, calibration).for_verdict(verdict)


def resolved(recipe: Recipe) -> dict[str, Any]:
    """The recipe with every default filled in (what is written beside the outputs)."""
    data = recipe.model_dump(mode="json")
    for key in [k for k in ("scan", "clutter") if data.get(k) is None]:
        data.pop(key)  # a recipe without them resolves as before
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
