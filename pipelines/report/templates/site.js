(function () {
  "use strict";
  // Under 600 px a chart of several subplot columns is stacked into one column (its panels in
  // reading order, each at full width); above, it is put back. Subplot titles move with their panel, and
  // the chart's box (plotly's wrapper div, which holds the height) grows with it.
  var NARROW = 600, PANEL = 230;
  function axes(layout) {
    return Object.keys(layout).filter(function (k) { return /^xaxis\d*$/.test(k); }).map(function (k) {
      var n = k.slice(5); return {x: "xaxis" + n, y: "yaxis" + n};
    });
  }
  function save(gd) {
    var L = gd.layout, saved = {height: L.height, axes: {}, annotations: {}};
    axes(L).forEach(function (a) {
      saved.axes[a.x] = (L[a.x].domain || [0, 1]).slice();
      saved.axes[a.y] = (L[a.y].domain || [0, 1]).slice();
      saved.axes[a.y + ".ticks"] = L[a.y].showticklabels;
      saved.axes[a.x + ".title"] = (L[a.x].title && L[a.x].title.text) || "";
    });
    (L.annotations || []).forEach(function (n, i) {
      if (n.xref === "paper" && n.yref === "paper" && n.name !== "source") { saved.annotations[i] = [n.x, n.y]; }
    });
    return saved;
  }
  function columns(saved, list) {
    var starts = {};
    list.forEach(function (a) { starts[saved.axes[a.x][0].toFixed(3)] = true; });
    return Object.keys(starts).length;
  }
  function restack(gd) {
    if (!gd.layout || !window.Plotly) { return; }
    var narrow = window.innerWidth < NARROW;
    if (!gd._wide) { gd._wide = save(gd); }
    var saved = gd._wide, list = axes(gd.layout);
    var box = gd.parentElement;
    if (!gd._wideHeight) { gd._wideHeight = box.style.height; }
    if (columns(saved, list) < 2 || narrow === !!gd._stacked) { return; }
    var update = {}, margin = gd.layout.margin || {}, top = margin.t || 80, bottom = margin.b || 80;
    if (!narrow) {
      update.height = saved.height;
      list.forEach(function (a) {
        update[a.x + ".domain"] = saved.axes[a.x];
        update[a.y + ".domain"] = saved.axes[a.y];
        update[a.y + ".showticklabels"] = saved.axes[a.y + ".ticks"];
        update[a.x + ".title.text"] = saved.axes[a.x + ".title"];
      });
      box.style.height = gd._wideHeight;
      Object.keys(saved.annotations).forEach(function (i) {
        update["annotations[" + i + "].x"] = saved.annotations[i][0];
        update["annotations[" + i + "].y"] = saved.annotations[i][1];
      });
    } else {
      var order = list.slice().sort(function (a, b) {
        var ya = saved.axes[a.y][1], yb = saved.axes[b.y][1];
        return ya !== yb ? yb - ya : saved.axes[a.x][0] - saved.axes[b.x][0];
      });
      var n = order.length, height = top + bottom + PANEL * n;
      var gap = Math.min(0.5, 70 / PANEL);
      update.height = height;
      order.forEach(function (a, k) {
        var hi = 1 - k / n, lo = 1 - (k + 1 - gap) / n;
        Object.keys(saved.annotations).forEach(function (i) {
          var at = saved.annotations[i], x = saved.axes[a.x], y = saved.axes[a.y];
          if (Math.abs(at[1] - y[1]) < 0.02 && at[0] >= x[0] - 0.01 && at[0] <= x[1] + 0.01) {
            update["annotations[" + i + "].x"] = 0.5;
            update["annotations[" + i + "].y"] = hi;
          }
        });
        update[a.x + ".domain"] = [0, 1];
        update[a.y + ".domain"] = [lo, hi];
        update[a.y + ".showticklabels"] = true;
        update[a.x + ".title.text"] = "";
      });
      box.style.height = height + "px";
    }
    gd._stacked = narrow;
    window.Plotly.relayout(gd, update);
  }
  function all() {
    Array.prototype.forEach.call(document.querySelectorAll(".js-plotly-plot"), restack);
  }
  var pending;
  window.addEventListener("resize", function () { clearTimeout(pending); pending = setTimeout(all, 150); });
  if (document.readyState === "complete") { all(); } else { window.addEventListener("load", all); }
}());
