/* Small page behaviours declared in the markup, since the Content-Security-Policy
   allows no inline event handler:
   <form data-confirm="Question?">   asks before submitting;
   <button data-copy="element-id">   copies that element's text;
   <button data-print>               prints the page.
   A page that opens with an error summary or a decision to confirm moves the
   keyboard focus (and the screen reader) there. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy], [data-print]");
    if (!button) return;
    if (button.hasAttribute("data-print")) {
      window.print();
      return;
    }
    var source = document.getElementById(button.dataset.copy);
    if (source && navigator.clipboard) navigator.clipboard.writeText(source.textContent);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var first = document.querySelector("#error-summary, #decision-check");
    if (first) first.focus();
  });
})();
