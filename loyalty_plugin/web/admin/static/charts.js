// Draws each report chart from the table beside it, so the chart and the table always show
// the same figures. <canvas data-chart="bar" data-table="ID" data-columns="1,2"> takes the
// row headers of table#ID as labels and the data-value of the cells of those columns as
// series (named by the column headers). No inline script: the CSP allows only 'self'.
(function () {
  "use strict";
  var COLORS = ["#2563eb", "#f59e0b", "#dc2626", "#10b981", "#7c3aed", "#0891b2", "#64748b"];

  function series(table, column) {
    var rows = table.tBodies[0] ? table.tBodies[0].rows : [];
    var values = [];
    for (var i = 0; i < rows.length; i++) {
      var cell = rows[i].cells[column];
      values.push(cell ? Number(cell.getAttribute("data-value") || 0) : 0);
    }
    return values;
  }

  function labels(table) {
    var rows = table.tBodies[0] ? table.tBodies[0].rows : [];
    var out = [];
    for (var i = 0; i < rows.length; i++) { out.push(rows[i].cells[0].textContent.trim()); }
    return out;
  }

  function draw(canvas) {
    var table = document.getElementById(canvas.getAttribute("data-table"));
    if (!table || !window.Chart) { return; }
    var columns = canvas.getAttribute("data-columns").split(",").map(Number);
    var head = table.tHead.rows[0].cells;
    var percent = canvas.hasAttribute("data-percent");
    var stacked = canvas.hasAttribute("data-stacked");
    var datasets = columns.map(function (column, n) {
      var color = COLORS[(Number(canvas.getAttribute("data-color") || 0) + n) % COLORS.length];
      return {
        label: head[column].textContent.trim(),
        data: series(table, column),
        backgroundColor: color,
        borderRadius: 3,
        maxBarThickness: 42
      };
    });
    new window.Chart(canvas, {
      type: canvas.getAttribute("data-chart") || "bar",
      data: { labels: labels(table), datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: datasets.length > 1, position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: percent ? { label: function (item) { return item.formattedValue + "%"; } } : {}
          }
        },
        scales: {
          x: { stacked: stacked, grid: { display: false } },
          y: {
            stacked: stacked,
            beginAtZero: true,
            max: percent ? 100 : undefined,
            ticks: { precision: 0 }
          }
        }
      }
    });
    canvas.setAttribute("data-drawn", "true");
  }

  function drawAll() {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i++) { draw(canvases[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
