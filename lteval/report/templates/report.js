(function () {
  "use strict";
  function num(cell) {
    var v = cell.getAttribute("data-v");
    return v === null || v === "" ? null : parseFloat(v);
  }
  function sortTable(table, th) {
    var col = parseInt(th.getAttribute("data-col"), 10);
    var text = th.getAttribute("data-type") === "text";
    var first = th.getAttribute("data-first") || (text ? "ascending" : "descending");
    var cur = th.getAttribute("aria-sort");
    var dir = cur ? (cur === "ascending" ? "descending" : "ascending") : first;
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ca = a.cells[col], cb = b.cells[col];
      if (text) {
        return sign * ca.textContent.trim().localeCompare(cb.textContent.trim());
      }
      var x = num(ca), y = num(cb);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      return sign * (x - y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    table.querySelectorAll("th[aria-sort]").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th[data-col]").forEach(function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, th); }
      });
    });
  });
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) {
      d.setAttribute("data-was-open", d.open ? "1" : "0");
      d.open = true;
    });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details[data-was-open]").forEach(function (d) {
      d.open = d.getAttribute("data-was-open") === "1";
      d.removeAttribute("data-was-open");
    });
  });
  document.documentElement.setAttribute("data-js", "ready");
})();
