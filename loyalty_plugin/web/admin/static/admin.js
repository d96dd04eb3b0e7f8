// Conveniences only: the pages work without this script, and the server never relies on it.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter || form.querySelector("button[type=submit]");
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (button) {
      window.setTimeout(function () { button.disabled = true; }, 0);
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) { return; }
    input.select();
    if (navigator.clipboard) {
      navigator.clipboard.writeText(input.value).then(function () { button.textContent = "Copied"; });
    }
  });
})();
