"""Label audit and relabeling: review decisions on a data set, applied through a journal.

* :mod:`weldsynth.audit.decisions` reads a decisions CSV (``path, decision, to, sha256``)
  and plans what it changes in the manifest, refusing anything unsafe.
* :mod:`weldsynth.audit.journal` applies such a plan through a write-ahead journal
  (``DATA/.weldsynth/journal.jsonl``), undoes steps byte for byte, and recovers a step a
  crash interrupted.
* :mod:`weldsynth.audit.report` renders the self-contained ``report.html`` review page whose
  "Export decisions CSV" button writes exactly the decisions CSV read here.
"""
