"""The built-in trainer: per-topology ResNet baselines, reports, predict, evaluate, ensembles.

Modules, one job each:

* :mod:`~weldsynth.train.config` — the resolved training configuration;
* :mod:`~weldsynth.train.data` — listing a data set (manifest or plain ImageFolder) and splits;
* :mod:`~weldsynth.train.images` — decoding once into a RAM cache, letterboxing, batches;
* :mod:`~weldsynth.train.models` — architecture registry (``@register_model``; ResNets,
  WeldNet) and the model interface;
* :mod:`~weldsynth.train.model` — pretrained-weight loading, parameter groups, precision;
* :mod:`~weldsynth.train.fit` — fine-tune schedule and training loop;
* :mod:`~weldsynth.train.setup` — the training setup shared with the audit's fold models
  (seeds, model, class balancing, batches, deterministic fit);
* :mod:`~weldsynth.train.metrics` — error, F1, confusion matrices;
* :mod:`~weldsynth.train.reports` — metrics.csv, plots, report.json, summary tables;
* :mod:`~weldsynth.train.checkpoint` — atomic ``model.pt`` save and checked load;
* :mod:`~weldsynth.train.predict` — inference on files and data sets;
* :mod:`~weldsynth.train.ensemble` — committees of models;
* :mod:`~weldsynth.train.tracking` — optional MLflow tracking;
* :mod:`~weldsynth.train.outcome` — a run's best checkpoint scored per split, plots;
* :mod:`~weldsynth.train.run` — one topology end to end, and ``--all``.

Importing this package does not import torch; the modules that need it do.
"""
