"""Inline CSS and JavaScript of ``report.html`` (no CDN, no network: the page works offline).

The script sorts and filters the suspect cards, toggles the overlays, counts the decisions
and exports all of them (also those of cards the filters hide) as the decisions CSV that
``weldsynth relabel apply`` reads (``path,decision,to,sha256``) through a Blob download. It exposes
``window.weldsynthReport = {decisionsCsv, sortBy, applyFilters, exportCsv}`` for scripting
and tests.
"""

from __future__ import annotations

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
"""Content-Security-Policy of the page: nothing but inline code and data: images may load."""

CSS = """
:root { --ink: #1d232a; --muted: #5b6670; --line: #d9dee3; --bad: #b3261e; --good: #1b6e3a; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; color: var(--ink); margin: 0; background: #f6f7f9; }
header { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid
  var(--line); padding: 10px 16px; }
h1 { font-size: 18px; margin: 0 0 4px; }
.sub { color: var(--muted); margin: 0 0 8px; }
.controls { display: flex; flex-wrap: wrap; gap: 10px 18px; align-items: center; }
.controls label { color: var(--muted); }
.controls select, .controls input[type=search] { margin-left: 4px; }
button { padding: 4px 10px; cursor: pointer; }
#summary { color: var(--muted); }
.legend { color: var(--muted); font-size: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px;
  vertical-align: middle; }
main { padding: 12px 16px; display: grid; gap: 10px; }
.suspect { display: grid; grid-template-columns: auto 1fr auto; gap: 14px; background: #fff;
  border: 1px solid var(--line); border-radius: 6px; padding: 10px; align-items: start; }
.suspect.disagree { border-left: 4px solid var(--bad); }
.stack { position: relative; background: #000; }
.stack img { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }
.stack img.base { image-rendering: pixelated; }
.hide-mask .ov-mask, .hide-cam .ov-cam { display: none; }
.noimg { color: var(--bad); font-size: 12px; padding: 6px; background: #fff; }
.fields { display: grid; grid-template-columns: repeat(3, max-content minmax(0, 1fr));
  gap: 1px 10px; margin: 0; min-width: 0; }
.fields dd.wide { grid-column: span 5; }
.fields dt { color: var(--muted); }
.fields dd { margin: 0; overflow-wrap: anywhere; }
.fields code { font-size: 12px; white-space: pre-wrap; }
.rank { font-weight: 600; }
.lab-good { color: var(--good); font-weight: 600; }
.lab-bad { color: var(--bad); font-weight: 600; }
.decide { display: grid; gap: 6px; min-width: 170px; }
.decide select { width: 100%; }
.why { color: var(--muted); font-size: 12px; max-width: 220px; }
[hidden] { display: none !important; }
"""

JS = r"""
(function () {
  "use strict";
  const main = document.getElementById("suspects");
  const cards = Array.from(main.querySelectorAll(".suspect"));
  const $ = (id) => document.getElementById(id);

  function num(card, key) {
    const v = parseFloat(card.dataset[key.replace(/_(.)/g, (m, c) => c.toUpperCase())]);
    return Number.isFinite(v) ? v : null;
  }

  function sortBy(spec) {
    const [key, dir] = spec.split(":");
    const sign = dir === "desc" ? -1 : 1;
    const sorted = cards.slice().sort((a, b) => {
      const x = num(a, key), y = num(b, key);
      if (x === null && y === null) return num(a, "rank") - num(b, "rank");
      if (x === null) return 1;
      if (y === null) return -1;
      return sign * (x - y) || num(a, "rank") - num(b, "rank");
    });
    sorted.forEach((c) => main.appendChild(c));
    return sorted;
  }

  function applyFilters() {
    const defect = $("filter-defect").value, given = $("filter-given").value;
    const text = $("filter-text").value.trim().toLowerCase();
    let shown = 0;
    cards.forEach((c) => {
      const ok = (defect === "*" || c.dataset.defect === defect) &&
                 (given === "*" || c.dataset.given === given) &&
                 (!text || c.dataset.path.toLowerCase().includes(text));
      c.hidden = !ok;
      if (ok) shown += 1;
    });
    updateSummary(shown);
    return shown;
  }

  function visible() {
    return Array.from(main.querySelectorAll(".suspect")).filter((c) => !c.hidden);
  }

  function updateSummary(shown) {
    const counts = { keep: 0, move: 0, drop: 0 };
    visible().forEach((c) => {
      counts[c.querySelector("select.decision").value.split(":")[0]] += 1;
    });
    $("summary").textContent = `showing ${shown === undefined ? visible().length : shown} of ` +
      `${cards.length} · decisions: ${counts.keep} keep, ${counts.move} move, ` +
      `${counts.drop} drop`;
  }

  function csvField(s) {
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function decisionsCsv() {
    const lines = ["path,decision,to,sha256"];  // every card: filters only hide them
    main.querySelectorAll(".suspect").forEach((c) => {
      const [decision, to] = c.querySelector("select.decision").value.split(/:(.*)/s);
      lines.push([c.dataset.path, decision, to || "", c.dataset.sha256].map(csvField)
        .join(","));
    });
    return lines.join("\n") + "\n";
  }

  function exportCsv() {
    const blob = new Blob([decisionsCsv()], { type: "text/csv" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = "decisions.csv";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    return blob;
  }

  $("sort").addEventListener("change", (e) => sortBy(e.target.value));
  ["filter-defect", "filter-given"].forEach((id) =>
    $(id).addEventListener("change", () => applyFilters()));
  $("filter-text").addEventListener("input", () => applyFilters());
  $("show-mask").addEventListener("change", (e) =>
    document.body.classList.toggle("hide-mask", !e.target.checked));
  $("show-cam").addEventListener("change", (e) =>
    document.body.classList.toggle("hide-cam", !e.target.checked));
  main.addEventListener("change", () => updateSummary());
  $("export").addEventListener("click", () => exportCsv());
  sortBy($("sort").value);
  applyFilters();
  window.weldsynthReport = { decisionsCsv, sortBy, applyFilters, exportCsv };
})();
"""
