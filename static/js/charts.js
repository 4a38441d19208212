/* Draws every plotly figure built in Python, on load and after each htmx swap.
   [data-plotly="id"] names the json_script holding its figure; [data-plotly-figure]
   takes the json_script right after it. plotly.js is loaded on first need, from the
   URL in this script's data-plotly-src, so an htmx panel needs no script of its own
   (the Content-Security-Policy allows no inline script). A drawn element is marked
   data-drawn. A chart is drawn when it comes near the viewport, so a page whose
   charts sit below the fold does not fetch or parse plotly.js before it is usable;
   inside [data-charts-eager] (the printed board pack) every chart is drawn at once. */
(function () {
  "use strict";
  if (window.portalCharts) return;  // included by base.html and by a page
  window.portalCharts = true;
  var me = document.currentScript;
  var plotlySrc = me && me.dataset.plotlySrc;
  var loading = null;

  function figureOf(el) {
    var source = el.dataset.plotly
      ? document.getElementById(el.dataset.plotly)
      : el.nextElementSibling;
    return source ? JSON.parse(source.textContent) : null;
  }

  function loadPlotly(then) {
    if (!loading) {
      loading = document.createElement("script");
      loading.src = plotlySrc;
      document.head.appendChild(loading);
    }
    loading.addEventListener("load", then);
  }

  function drawNow(el) {
    if (el.dataset.drawn) return;
    if (!window.Plotly) {
      if (plotlySrc) loadPlotly(function () { drawNow(el); });
      return;
    }
    var figure = figureOf(el);
    if (!figure) return;
    el.dataset.drawn = "pending";
    window.Plotly.newPlot(el, figure.data || [], figure.layout || {}, {
      displaylogo: false,
      displayModeBar: el.dataset.plotlyModebar === "off" ? false : "hover",
      responsive: true
    }).then(function () { el.dataset.drawn = "yes"; });
  }

  var observer = "IntersectionObserver" in window
    ? new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (!entry.isIntersecting) return;
          observer.unobserve(entry.target);
          drawNow(entry.target);
        });
      }, { rootMargin: "300px 0px" })
    : null;

  function draw() {
    document.querySelectorAll(
      "[data-plotly]:not([data-drawn]), [data-plotly-figure]:not([data-drawn])"
    ).forEach(function (el) {
      if (observer && !el.closest("[data-charts-eager]")) observer.observe(el);
      else drawNow(el);
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
