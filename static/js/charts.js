/* Draws every [data-plotly] element from the json_script figure it names, on
   load and after each htmx swap; a drawn element is marked data-drawn. */
(function () {
  "use strict";
  function draw() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-plotly]:not([data-drawn])").forEach(function (el) {
      var source = document.getElementById(el.dataset.plotly);
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      el.dataset.drawn = "pending";
      window.Plotly.newPlot(el, figure.data || [], figure.layout || {}, {
        displaylogo: false, responsive: true
      }).then(function () { el.dataset.drawn = "yes"; });
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", draw);
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("[data-drawn=yes]").forEach(function (el) {
      window.Plotly.Plots.resize(el);
    });
  });
})();
