(function () {
  "use strict";
  var table = document.getElementById("alerts");
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return r.dataset.rule; });
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var count = document.getElementById("alerts-count");
  var collator = new Intl.Collator(document.documentElement.lang, { numeric: true });

  function apply() {
    var shown = 0;
    rows.forEach(function (row) {
      var keep = selects.every(function (s) { return !s.value || row.dataset[s.dataset.filter] === s.value; });
      row.hidden = !keep;
      if (keep) { shown += 1; }
    });
    if (count) { count.textContent = shown + " / " + rows.length; }
  }

  function key(row, index) {
    var cell = row.cells[index];
    return cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent;
  }

  function sortBy(index, th) {
    var descending = th.getAttribute("aria-sort") === "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    rows.sort(function (a, b) {
      var x = key(a, index), y = key(b, index);
      var nx = x.trim() === "" ? NaN : Number(x), ny = y.trim() === "" ? NaN : Number(y);
      var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : collator.compare(x, y);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
    var button = th.querySelector("button");
    if (button) { button.addEventListener("click", function () { sortBy(index, th); }); }
  });
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  apply();
})();
