"""``--track mlflow``: params, per-epoch metrics and artifacts in a local store."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import train_fixtures as fx
from click.testing import CliRunner

from weldsynth.cli.main import cli


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # sqlalchemy, inside mlflow
def test_mlflow_run_has_params_metrics_and_artifacts(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from weldsynth.train.tracking import store_uri

    data = fx.image_folder(tmp_path / "data", ("7",), n_per_class=6)
    store = tmp_path / "store"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = CliRunner().invoke(
            cli,
            [
                "train",
                str(data),
                "--size",
                "32x96",
                "--batch-size",
                "4",
                "--epochs",
                "2",
                "--weights",
                "none",
                "--quiet",
                "--out",
                str(tmp_path / "runs"),
                "--track",
                "mlflow",
                "--tracking-uri",
                str(store),
            ],
        )
    finally:
        torch.set_num_threads(before)
    assert res.exit_code == 0, res.output
    client = MlflowClient(tracking_uri=store_uri(str(store))[0])
    experiment = client.get_experiment_by_name("weldsynth")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["arch"] == "weldnet"  # --arch auto, --weights none
    assert run.data.params["epochs"] == "2" and run.data.params["topology"] == "7"
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in history] == [1, 2]
    assert {"train_loss", "error_rate", "f1", "lr"} <= set(run.data.metrics)
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model.pt", "metrics.csv", "report.json", "loss.png", "confusion.png"} <= names
    assert (store / "mlflow.db").is_file() and (store / "artifacts").is_dir()
