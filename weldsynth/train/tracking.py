"""Optional experiment tracking with MLflow (the ``mlflow`` extra).

One MLflow run per trained topology: the resolved configuration as params, every epoch's
metrics as steps, and the run folder (reports, plots, model) as artifacts. The default
store is the local folder ``./mlruns``: an SQLite database ``mlruns/mlflow.db`` plus
``mlruns/artifacts/`` (MLflow 3 refuses its old plain-folder store by default; SQLite works
with MLflow 2 and 3). Browse it with ``mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db``.
Without the extra, asking for tracking is a clear error naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weldsynth.core.errors import WeldsynthError

INSTALL_HINT = 'pip install "weldsynth[mlflow]"'
DEFAULT_STORE = "mlruns"
EXPERIMENT = "weldsynth"


class NullTracker:
    """Tracks nothing (the default)."""

    def start(self, run_name: str, params: dict[str, Any], tags: dict[str, str]) -> None:
        """Begin a run."""

    def log_epoch(self, step: int, metrics: dict[str, float]) -> None:
        """Record one epoch's metrics."""

    def finish(self, artifacts: Path | None, status: str = "FINISHED") -> None:
        """Upload artifacts and close the run."""


class MlflowTracker(NullTracker):
    """Tracks runs in an MLflow store.

    Args:
        uri: Tracking URI or local folder ("" : ``./mlruns``).
        experiment: Experiment name.

    Raises:
        WeldsynthError: mlflow is not installed.
    """

    def __init__(self, uri: str = "", experiment: str = EXPERIMENT) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise WeldsynthError(f"--track mlflow needs the mlflow extra: {INSTALL_HINT}") from exc
        self.uri, artifacts = store_uri(uri)
        if artifacts is not None:
            Path(artifacts.removeprefix("file://")).parent.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=self.uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = (
            found.experiment_id
            if found is not None
            else self.client.create_experiment(experiment, artifact_location=artifacts)
        )
        self.run_id = ""

    def start(self, run_name: str, params: dict[str, Any], tags: dict[str, str]) -> None:
        """Create the run and log the params (values as text, MLflow's limit of 500 chars)."""
        from mlflow.entities import Param

        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        self.run_id = run.info.run_id
        items = [Param(k, str(v)[:500]) for k, v in sorted(params.items())]
        for start in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[start : start + 100])

    def log_epoch(self, step: int, metrics: dict[str, float]) -> None:
        """Log one epoch's metrics at ``step``."""
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step) for k, v in sorted(metrics.items())]
        self.client.log_batch(self.run_id, metrics=batch)

    def finish(self, artifacts: Path | None, status: str = "FINISHED") -> None:
        """Upload the run folder's files as artifacts and mark the run ended."""
        if not self.run_id:
            return
        if artifacts is not None and artifacts.is_dir():
            self.client.log_artifacts(self.run_id, str(artifacts))
        self.client.set_terminated(self.run_id, status=status)


def store_uri(uri: str) -> tuple[str, str | None]:
    """Tracking URI and artifact location for ``--tracking-uri``.

    A URI (``scheme:...``) is used as given (artifacts where its server puts them); a folder
    ("" : ``./mlruns``) becomes ``sqlite:///FOLDER/mlflow.db`` with artifacts in
    ``FOLDER/artifacts``.
    """
    if "://" in uri or uri.startswith(("sqlite:", "file:", "databricks", "http:", "https:")):
        return uri, None
    folder = Path(uri or DEFAULT_STORE).resolve()
    return f"sqlite:///{(folder / 'mlflow.db').as_posix()}", (folder / "artifacts").as_uri()


def make_tracker(track: str, uri: str = "") -> NullTracker:
    """The tracker for ``--track`` ("" or "mlflow")."""
    if track == "mlflow":
        return MlflowTracker(uri)
    if track:
        raise WeldsynthError(f"--track {track}: only mlflow is supported")
    return NullTracker()
