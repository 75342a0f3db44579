"""Label audit and relabeling: review decisions on a data set, applied through a journal.

* :mod:`weldsynth.dataset.relabel.decisions` reads a decisions CSV (``path, decision, to, sha256``)
  and plans what it changes in the manifest, refusing anything unsafe.
* :mod:`weldsynth.dataset.relabel.journal` applies such a plan through a write-ahead journal
  (``DATA/.weldsynth/journal.jsonl``), undoes steps byte for byte, and recovers a step a
  crash interrupted.
* :mod:`weldsynth.audit.report` renders the self-contained ``report.html`` review page whose
  "Export decisions CSV" button writes exactly the decisions CSV read here.
* :mod:`weldsynth.audit.run` audits one topology (``weldsynth audit``): out-of-fold
  probabilities (:mod:`~weldsynth.audit.oof` over grouped folds from
  :mod:`~weldsynth.audit.folds`, fold models from :mod:`~weldsynth.audit.learner`),
  suggestions and per-defect confusion (:mod:`~weldsynth.audit.suspects`), Grad-CAM and
  CAM-in-mask (:mod:`~weldsynth.audit.gradcam`); the audit folder's files are written by
  :mod:`~weldsynth.audit.outputs`.
* :mod:`weldsynth.pipelines.loop` iterates train → audit → apply → retrain (``weldsynth loop``).
"""
