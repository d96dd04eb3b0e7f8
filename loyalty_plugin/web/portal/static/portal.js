// Disable a form's button once it is submitted, so a double click sends it once.
// (The server never spends twice anyway: each form carries a one-time key.)
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.hasAttribute("data-once")) return;
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  form.querySelectorAll("button[type=submit]").forEach(function (b) {
    b.disabled = true;
    b.textContent = "Working…";
  });
});
