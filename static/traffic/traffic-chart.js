// Draws a server's traffic (bit/s in and out) with uPlot from /api/v1/servers/{id}/traffic/.
// A static file, so the Content-Security-Policy needs no inline script.
(function () {
  "use strict";
  var box = document.getElementById("traffic-chart");
  if (!box || typeof window.uPlot === "undefined") return;
  var status = box.querySelector(".traffic-status");
  var buttons = document.querySelectorAll("[data-traffic-range]");
  var plot = null;
  var UNITS = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];

  function rate(bps) {
    if (bps === null || bps === undefined) return "—";
    var index = 0;
    while (Math.abs(bps) >= 1000 && index < UNITS.length - 1) { bps /= 1000; index += 1; }
    return (index === 0 ? bps.toFixed(0) : bps.toFixed(bps < 10 ? 2 : 1)) + " " + UNITS[index];
  }

  function say(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function options(width) {
    return {
      width: width,
      height: 300,
      series: [
        {},
        { label: "In", stroke: "#198754", fill: "rgba(25, 135, 84, .12)", width: 1.5, value: function (u, v) { return rate(v); } },
        { label: "Out", stroke: "#0d6efd", width: 1.5, value: function (u, v) { return rate(v); } }
      ],
      axes: [
        {},
        { size: 100, values: function (u, splits) { return splits.map(rate); } }
      ],
      scales: { y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } }
    };
  }

  function draw(body) {
    var data = [[], [], []];
    body.rates.forEach(function (point) {
      data[0].push(Date.parse(point.time) / 1000);
      data[1].push(point.in_bps);
      data[2].push(point.out_bps);
    });
    var present = data[1].some(function (v) { return v !== null; });
    say(present ? "" : "No traffic recorded in this range yet.");
    if (plot) {
      plot.setData(data);
    } else {
      plot = new window.uPlot(options(box.clientWidth), data, box);
    }
    // Nothing to draw: no axes of a made-up scale under the status line.
    plot.root.style.display = present ? "" : "none";
    box.classList.toggle("is-empty", !present);
    box.dataset.points = String(data[0].length);
  }

  function load(seconds) {
    var from = new Date(Date.now() - seconds * 1000).toISOString();
    buttons.forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.trafficRange === String(seconds)));
    });
    say("Loading…");
    fetch(box.dataset.url + "?from=" + encodeURIComponent(from), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(draw)
      .catch(function () { say("The traffic could not be loaded; try again later."); });
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () { load(Number(button.dataset.trafficRange)); });
  });
  window.addEventListener("resize", function () {
    if (plot) plot.setSize({ width: box.clientWidth, height: 300 });
  });
  load(86400);
})();
