"""Suggested decisions for audited samples, ``suspects.csv`` and the per-defect confusion.

Each sample gets a suggestion, a ``confidence`` (the seed-averaged probability that the
given label is wrong, ``1 - p_given``) and a one-line ``why``. The rules, in order, with
``c`` the predicted class and ``p`` its mean probability over seeds:

1. the model agrees with the label (``c`` = given) → **keep**;
1b. the sample was generated (a drawn defect and seed) and its label follows from what
   generated it — its norm verdict (``reject`` → bad, ``accept`` → good) or, without one,
   the kind of draw (an ``acceptable_`` defect is good, any other bad) → **keep (label
   follows from the recipe)**: the disagreement is the model's error, not a label error
   (a row relabelled by hand since no longer follows and goes on to the rules below);
2. the sample's group — its given class and defect (``bad/hole``, ``good/(none)``...), when
   that class is the defect's usual one (most samples with that defect have it) — is
   predicted otherwise in at least :data:`AMBIGUOUS_DEFECT` of its (at least
   :data:`MIN_DEFECT_N`) samples → **keep**: the model cannot see that defect, or learnt a
   shortcut that fails on the whole group (e.g. "no zeros on the bead means bad"), so
   this is a defect-level problem, not a label error — relabelling the group would be
   wrong. A minority group (``good/ball``: balls are bad) is never excused this way;
3. most (at least :data:`SOURCE_SHARE`) of the images of the sample's source weld with the
   same given class (at least :data:`MIN_SOURCE_N` of them) are predicted otherwise →
   **keep**: label errors strike single images, not every variant of a weld; the weld is
   unlike the ones the fold models learnt from (or is itself defective) — review the weld;
4. ``p ≥`` :data:`RELABEL_P` and every seed's models (each trained without the sample, on
   different folds) predict ``c`` → **relabel:c**;
5. ``p ≥`` :data:`DROP_P` (confidently wrong) but not sure enough for rule 4 (the seeds
   disagree, or ``p`` below :data:`RELABEL_P`) → **drop**: an ambiguous sample that
   teaches noise either way;
6. otherwise (wrong but unsure) → **keep**, worth a look.

Where masks exist, the sample's own defect mask adds its say
(:mod:`weldsynth.audit.evidence`): a good sample whose confident defect map lies on its
mask is reviewed first (with the flagged ones); a doubted bad sample whose defect map lies
on its mask is kept (the models see the drawn defect); the reason is appended to ``why``.

A sample is *flagged* when the suggestion is relabel or drop. ``weldsynth loop --auto T``
applies flagged suggestions whose confidence is at least ``T``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from weldsynth.audit.oof import Scores
from weldsynth.audit.plots import plot_confusion_by_defect  # noqa: F401  (re-export)
from weldsynth.core.atomic import atomic_write_bytes

RELABEL_P = 0.90
"""Mean probability of another class needed to suggest relabelling to it."""
DROP_P = 0.70
"""Mean probability of another class above which a sample not relabelled is dropped."""
AMBIGUOUS_DEFECT = 0.5
"""Share of a defect's bad samples predicted good from which the defect, not the label, is
suspected."""
MIN_DEFECT_N = 5
"""Fewest samples of a defect for rule 2."""
SOURCE_SHARE = 0.5
"""Share of a source weld's images (same given class) predicted otherwise from which the
weld, not the labels, is suspected (rule 3)."""
MIN_SOURCE_N = 3
"""Fewest images of a source weld (same given class) for rule 3."""
SUSPECT_COLUMNS = (
    "rank",
    "loss_rank",
    "path",
    "topology",
    "given",
    "predicted",
    "p_given",
    "loss",
    "margin",
    "agree",
    "p_given_min",
    "p_given_max",
    "suggestion",
    "confidence",
    "why",
    "defect",
    "source",
    "split",
    "fold",
    "mask",
    "cam_in_mask",
    "mask_share",
    "params",
    "sha256",
)


@dataclass(frozen=True)
class Sample:
    """What the audit knows about one sample besides its scores."""

    path: str
    topology: str
    defect: str = ""
    source: str = ""
    split: str = ""
    mask: str = ""
    params: str = "{}"
    sha256: str = ""
    verdict: str = ""
    seed: str = ""
    """The manifest's seed: set for a generated draw (""  for an original weld)."""


@dataclass(frozen=True)
class Suggestion:
    """A suggested decision: ``keep``, ``relabel:<class folder>`` or ``drop``."""

    action: str
    confidence: float
    why: str
    excused: bool = False
    """Kept because a group-level reason (rule 2 or 3) explains the disagreement."""
    agrees: bool = False
    """The model predicts the given class (rule 1)."""
    mask_suspect: bool = False
    """The sample's own defect mask speaks against its label (:mod:`weldsynth.audit.evidence`)."""

    @property
    def flagged(self) -> bool:
        """True for relabel and drop."""
        return self.action != "keep"

    @property
    def tier(self) -> int:
        """Review order: 0 flagged or mask suspect, 1 unexplained disagreement, 2
        disagreement a group-level reason (or the mask) explains, 3 agreement
        (suspects.csv ranks by tier, then loss)."""
        if self.flagged or self.mask_suspect:
            return 0
        return 3 if self.agrees else 2 if self.excused else 1


def suggest(
    scores: Scores,
    samples: Sequence[Sample],
    classes: Sequence[str],
    seeds: int,
    folder_of: dict[str, str] | None = None,
) -> list[Suggestion]:
    """Apply the module's rules to every sample.

    Args:
        scores: From :func:`weldsynth.audit.oof.score`.
        samples: Same order.
        classes: Class names (model order).
        seeds: Number of seeds averaged (for the wording).
        folder_of: Class -> the class folder a relabel moves to, per sample path; default
            the class name (see :func:`move_folder`).
    """
    group_error = {
        key: v for key, v in _group_errors(scores, samples).items() if v[0] >= AMBIGUOUS_DEFECT
    }
    rules = _Rules(
        scores,
        classes,
        f"over {seeds} seed{'s' if seeds != 1 else ''}",
        group_error,
        _source_disagreement(scores, samples, set(group_error)),
        folder_of or {},
    )
    return [rules.apply(k, smp) for k, smp in enumerate(samples)]


@dataclass(frozen=True)
class _Rules:
    """The module's rules with what they need to know about all samples."""

    scores: Scores
    classes: Sequence[str]
    over: str
    """The "over N seeds" of the wording."""
    group_error: dict[tuple[int, str], tuple[float, int]]
    """Rule 2's groups: (given class, defect) -> (share predicted otherwise, samples)."""
    by_source: dict[tuple[str, int], tuple[int, int]]
    """Rule 3: (source, given class) -> (images predicted otherwise, images)."""
    folder_of: dict[str, str]

    def apply(self, k: int, smp: Sample) -> Suggestion:
        """The suggestion for sample ``k``."""
        scores, classes = self.scores, self.classes
        g, c = int(scores.given[k]), int(scores.predicted[k])
        p, conf = float(scores.p_predicted[k]), float(1.0 - scores.p_given[k])
        if c == g:
            why = f"model agrees: p({classes[g]})={scores.p_given[k]:.2f} {self.over}"
            return Suggestion("keep", conf, why, agrees=True)
        generated = _label_by_recipe(smp)
        if generated and classes[g].split("-", 1)[0] == generated:
            return Suggestion(
                "keep",
                conf,
                f"keep (label follows from the recipe): {smp.defect} drawn with seed "
                f"{smp.seed} is {generated} by construction"
                f"{f' (verdict {smp.verdict})' if smp.verdict else ''}; "
                f"p({classes[c]})={p:.2f} {self.over} is a model error, not a label error",
                excused=True,
            )
        excuse = self._excuse(smp, g, c, p)
        if excuse:
            return Suggestion("keep", conf, excuse, excused=True)
        return self._judge(k, smp, g, c, p, conf)

    def _excuse(self, smp: Sample, g: int, c: int, p: float) -> str:
        """Rule 2 or 3's reason to keep a disagreement ("" if neither applies)."""
        classes = self.classes
        err = self.group_error.get((g, smp.defect))
        if err is not None:
            group = f"{classes[g]}/{smp.defect or '(none)'}"
            return (
                f"p({classes[c]})={p:.2f}, but {group} is predicted otherwise in "
                f"{100 * err[0]:.0f}% of its {err[1]} samples: the model cannot see this "
                "defect or learnt a shortcut that fails on it, not a label error; review "
                "the group (confusion_by_defect)"
            )
        wrong, n_source = self.by_source[smp.source, g]
        if n_source >= MIN_SOURCE_N and wrong / n_source >= SOURCE_SHARE:
            return (
                f"p({classes[c]})={p:.2f}, but {wrong} of the {n_source} "
                f"{classes[g]} images of source weld {smp.source} are predicted otherwise: "
                "the weld is unlike "
                "the training welds (or itself defective); review the weld, not each image"
            )
        return ""

    def _judge(self, k: int, smp: Sample, g: int, c: int, p: float, conf: float) -> Suggestion:
        """Rules 4 to 6: relabel, drop or keep an unexplained disagreement."""
        classes, over = self.classes, self.over
        agree = float(self.scores.agree[k])
        target = self.folder_of.get(smp.path, classes[c])
        agreeing = "all agree" if agree >= 1.0 else f"{100 * agree:.0f}% agree"
        if p >= RELABEL_P and agree >= 1.0 and target:
            return Suggestion(
                f"relabel:{target}", conf, f"p({classes[c]})={p:.2f} {over}, {agreeing}"
            )
        if p >= DROP_P:
            reason = (
                f"only {agreeing}"
                if agree < 1.0
                else f"below {RELABEL_P:.2f}"
                if p < RELABEL_P
                else "no class folder to move to"
            )
            return Suggestion(
                "drop",
                conf,
                f"confidently wrong, p({classes[c]})={p:.2f} {over}, but {reason}: ambiguous",
            )
        return Suggestion(
            "keep",
            conf,
            f"unsure: p({classes[c]})={p:.2f} {over}, "
            f"p({classes[g]})={self.scores.p_given[k]:.2f}; worth a look",
        )


def _label_by_recipe(smp: Sample) -> str:
    """The label a generated sample has by construction ("" when not generated): its norm
    verdict's, else the kind of its draw's (acceptable variants are good)."""
    from weldsynth.synth.defects.rule import ACCEPTABLE_PREFIX

    if not smp.seed or not smp.defect:
        return ""
    if smp.verdict in ("accept", "reject"):
        return "good" if smp.verdict == "accept" else "bad"
    return "good" if smp.defect.startswith(ACCEPTABLE_PREFIX) else "bad"


def _group_errors(
    scores: Scores, samples: Sequence[Sample]
) -> dict[tuple[int, str], tuple[float, int]]:
    """(given class, defect) -> (share predicted otherwise, samples), for rule 2: only
    groups of at least :data:`MIN_DEFECT_N` whose class is the defect's usual one."""
    members: dict[tuple[int, str], list[int]] = {}
    for k, smp in enumerate(samples):
        members.setdefault((int(scores.given[k]), smp.defect), []).append(k)
    out = {}
    for (g, defect), idx in members.items():
        usual = max(len(m) for (_g, d), m in members.items() if d == defect)
        if len(idx) < MIN_DEFECT_N or len(idx) < usual:
            continue  # too small, or a minority class for this defect
        out[g, defect] = (float(np.mean(scores.predicted[idx] != g)), len(idx))
    return out


def _source_disagreement(
    scores: Scores, samples: Sequence[Sample], excused: set[tuple[int, str]]
) -> dict[tuple[str, int], tuple[int, int]]:
    """(source, given class) -> (images predicted otherwise, images), for rule 3; images of
    a group rule 2 excuses do not count as predicted otherwise."""
    out: dict[tuple[str, int], list[int]] = {}
    for k, smp in enumerate(samples):
        g = int(scores.given[k])
        tally = out.setdefault((smp.source, g), [0, 0])
        tally[0] += int(scores.predicted[k] != g and (g, smp.defect) not in excused)
        tally[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def move_folder(path: str, label: str, defect: str, folders: set[str]) -> str:
    """The class folder a relabel to ``label`` moves ``path`` to ("" when none fits).

    In a per-defect layout (``bad-<defect>`` folders, no ``bad``), a move to "bad" goes to
    the sample's own defect folder; a sample without a defect cannot be placed.

    Args:
        path: The sample's manifest path.
        label: The class suggested.
        defect: The sample's defect ("" if none).
        folders: Class folders of the topology in use.
    """
    if label != "bad" or "bad" in folders or not any(f.startswith("bad-") for f in folders):
        return label
    return f"bad-{defect}" if defect else ""


def class_folders(paths: Sequence[str]) -> set[str]:
    """The class folders (parents of the files) used by manifest paths."""
    return {PurePosixPath(p).parent.name for p in paths}


def confusion_by_defect(
    scores: Scores, samples: Sequence[Sample], classes: Sequence[str], by_verdict: bool = False
) -> list[dict]:
    """Per (given class, defect), or per (given class, defect, verdict) with ``by_verdict``:
    how many, how they are predicted, mean ``p_given``.

    Rows: ``given, defect, [verdict,] n, error, mean_p_given`` and one ``pred_<class>``
    share per class, sorted by error (highest first). The verdict is the norm's (accept,
    reject; ``(none)`` for samples without one), so acceptable imperfections taken for bad
    are one row.
    """
    keys: dict[tuple[str, ...], list[int]] = {}
    for k, smp in enumerate(samples):
        key = (classes[int(scores.given[k])], smp.defect)
        keys.setdefault(key + ((smp.verdict,) if by_verdict else ()), []).append(k)
    rows = []
    for key, idx in keys.items():
        given, defect = key[:2]
        pred = scores.predicted[idx]
        row = {
            "given": given,
            "defect": defect or "(none)",
            **({"verdict": key[2] or "(none)"} if by_verdict else {}),
            "n": len(idx),
            "error": round(float(np.mean(pred != scores.given[idx])), 4),
            "mean_p_given": round(float(np.mean(scores.p_given[idx])), 4),
        }
        for c, name in enumerate(classes):
            row[f"pred_{name}"] = round(float(np.mean(pred == c)), 4)
        rows.append(row)
    rows.sort(key=lambda r: (-r["error"], r["given"], r["defect"], r.get("verdict", "")))
    return rows


def write_csv(path: Path, rows: Sequence[dict], columns: Sequence[str] | None = None) -> Path:
    """Write dict rows as CSV, atomically (columns: given, or the first row's keys)."""
    cols = list(columns or (rows[0].keys() if rows else []))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return atomic_write_bytes(path, buf.getvalue().encode("utf-8"))
