"""Registry, entry-point discovery and config validation of the defect plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from weldsynth.synth.defects import (
    DefectConfigError,
    DuplicateDefectError,
    UnknownDefectError,
    create_defect,
    get_defect,
    list_defects,
    register_defect,
)
from weldsynth.synth.defects import registry as reg
from weldsynth.synth.defects.hole import Hole


def test_duplicate_name_raises_and_same_class_is_idempotent() -> None:
    assert register_defect(Hole) is Hole

    class Other(Hole):
        name = "hole"

    with pytest.raises(DuplicateDefectError, match="'hole' is already registered"):
        register_defect(Other)
    assert get_defect("hole") is Hole


def test_register_rejects_bad_classes() -> None:
    with pytest.raises(TypeError):
        register_defect(int)  # type: ignore[arg-type]

    class Bad(Hole):
        name = "Not-A-Name"

    with pytest.raises(ValueError, match="lower_snake_case"):
        register_defect(Bad)


def test_unknown_name_lists_known() -> None:
    with pytest.raises(UnknownDefectError, match=r"unknown defect 'crack'; known: .*hole"):
        get_defect("crack")


@pytest.mark.parametrize(
    "values,message",
    [
        ({"radius": (2, 100)}, "hole: radius=(2, 100) is outside the allowed range [1, 30] px"),
        ({"radius": 0.5}, "hole: radius=0.5 is outside the allowed range [1, 30] px"),
        ({"depth": (0.9, 0.2)}, "hole: depth=(0.9, 0.2) has min > max"),
        ({"radius": "big"}, "hole: radius='big' must be a number or a (min, max) pair"),
        ({"radius": (1, float("nan"))}, "hole: radius=(1, nan) must be finite"),
        ({"radios": 3}, "hole: unknown parameter 'radios'; known: aspect, depth, offset, radius"),
    ],
)
def test_config_errors_name_plugin_field_value_and_range(values: dict, message: str) -> None:
    with pytest.raises(DefectConfigError) as info:
        create_defect("hole", **values)
    assert str(info.value).startswith(message)


def test_config_scalar_means_fixed_value_and_ranges_are_kept() -> None:
    hole = create_defect("hole", radius=3, depth=[0.2, 0.4])
    assert hole.config.radius == (3.0, 3.0) and hole.config.depth == (0.2, 0.4)
    assert create_defect("hole").to_dict()["config"]["radius"] == [2.0, 4.5]


def test_max_tries_validated() -> None:
    with pytest.raises(DefectConfigError, match="max_tries=0"):
        Hole(max_tries=0)


# ---------------------------------------------------------------------- entry points
PLUGIN_SOURCE = textwrap.dedent(
    """
    from dataclasses import dataclass
    import numpy as np
    from weldsynth.synth.defects import Defect, DefectConfig, DefectParams, param
    from weldsynth.synth.defects.functional import edit_box

    @dataclass(frozen=True)
    class DentConfig(DefectConfig):
        amount: tuple[float, float] = param((0.1, 0.2), bounds=(0.0, 1.0), help="drop")

    @dataclass(frozen=True)
    class DentParams(DefectParams):
        amount: float
        row: int

    class Dent(Defect):
        name = "ext_dent"
        description = "test plugin from an entry point"
        Config = DentConfig
        Params = DentParams

        def sample(self, rng, geometry):
            return DentParams(amount=float(rng.uniform(*self.config.amount)), row=10)

        def apply(self, height, params):
            box = (0, params.row, height.shape[1], params.row + 1)
            return edit_box(height, box, lambda u, xs, ys: u * (1 - params.amount))
    """
)


def _install_fake_distribution(root: Path, entry_points: str) -> None:
    """A tiny installed distribution: a module and a dist-info with entry_points.txt."""
    (root / "ext_weld_plugin.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
    info = root / "ext_weld_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ext-weld-plugin\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    reg.unregister_defect("ext_dent")
    sys.modules.pop("ext_weld_plugin", None)


def test_entry_point_plugin_is_discovered(fake_site: Path) -> None:
    _install_fake_distribution(fake_site, "[weldsynth.defects]\next_dent = ext_weld_plugin:Dent\n")
    reg.reload_plugins()
    assert "ext_dent" in list_defects()
    assert "entry point ext_dent" in reg.defect_source("ext_dent")
    dent = create_defect("ext_dent", amount=0.5)
    height = np.full((32, 32), 200, np.uint8)
    from defects_support import make_case

    geometry = make_case("line").geometry
    geometry = geometry.__class__(**{**geometry.__dict__, "shape": (32, 32)})
    result = dent(height, np.random.default_rng(0), geometry)
    assert result.ok and result.mask[10].all() and result.height[10, 0] == 100


def test_broken_entry_point_warns_and_others_still_load(fake_site: Path) -> None:
    _install_fake_distribution(
        fake_site,
        "[weldsynth.defects]\nbroken = ext_missing_module:Thing\next_dent = ext_weld_plugin:Dent\n",
    )
    with pytest.warns(RuntimeWarning, match=r"entry point 'broken = ext_missing_module:Thing'"):
        reg.reload_plugins()
    assert "ext_dent" in list_defects() and "hole" in list_defects()


# ---------------------------------------------------------------------- built-in discovery
PACKAGE_PLUGIN_SOURCE = textwrap.dedent(
    """
    from weldsynth.synth.defects.hole import Hole
    from weldsynth.synth.defects.registry import register_defect


    @register_defect
    class Pock(Hole):
        name = "tmp_pock"
        description = "test plugin found by importing the package's modules"
    """
)


@pytest.fixture
def package_folder(tmp_path: Path):
    """An extra folder of the ``weldsynth.synth.defects`` package, removed afterwards."""
    import weldsynth.synth.defects as package

    folder = tmp_path / "extra_defects"
    folder.mkdir()
    package.__path__.append(str(folder))
    yield folder
    package.__path__.remove(str(folder))
    reg.unregister_defect("tmp_pock")
    sys.modules.pop(f"{reg.PACKAGE}.tmp_pock_module", None)
    reg.reload_plugins()


def test_a_new_module_of_the_package_is_discovered_without_a_list(package_folder: Path) -> None:
    import importlib

    from click.testing import CliRunner

    from weldsynth.cli.main import cli

    assert "tmp_pock" not in list_defects()
    (package_folder / "tmp_pock_module.py").write_text(PACKAGE_PLUGIN_SOURCE, encoding="utf-8")
    importlib.invalidate_caches()
    reg.reload_plugins()
    assert f"{reg.PACKAGE}.tmp_pock_module" in reg.builtin_modules()
    assert reg.defect_source("tmp_pock") == f"{reg.PACKAGE}.tmp_pock_module"
    listed = CliRunner().invoke(cli, ["defects", "list", "--json"])
    assert listed.exit_code == 0 and '"name": "tmp_pock"' in listed.output


def test_modules_left_out_of_discovery_define_no_plugin() -> None:
    import importlib

    names = {m.rsplit(".", 1)[1] for m in reg.builtin_modules()}
    assert {"hole", "cut", "ball", "base", "registry"} <= names
    assert not names & reg.NOT_SCANNED
    before = list_defects()
    for module in sorted(reg.NOT_SCANNED):
        importlib.import_module(f"{reg.PACKAGE}.{module}")
    assert list_defects() == before
