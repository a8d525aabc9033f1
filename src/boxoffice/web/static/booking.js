// The booking page: the time left to pay, and, while a payment is being confirmed, asking the
// site how the booking stands until the ticket is ready (then showing it, no reload by hand).
(function () {
  "use strict";

  // "Pay before 19:40 (4:59 left)": counts down to expires_at, then says the time is up.
  var countdown = document.querySelector("[data-expires-at]");
  if (countdown) {
    var ends = Date.parse(countdown.getAttribute("data-expires-at"));
    var left = countdown.querySelector("[data-left]");
    var payButton = document.querySelector("[data-testid=pay]");
    var tick = function () {
      var seconds = Math.max(0, Math.round((ends - Date.now()) / 1000));
      if (seconds <= 0) {
        left.textContent = "(time is up)";
        countdown.classList.add("over");
        if (payButton) { payButton.disabled = true; }
        window.clearInterval(timer);
        return;
      }
      var minutes = Math.floor(seconds / 60);
      var rest = seconds % 60;
      left.textContent = "(" + minutes + ":" + (rest < 10 ? "0" : "") + rest + " left)";
      // Screen readers hear it once a minute, not every second.
      countdown.setAttribute("aria-live", rest === 0 || seconds <= 10 ? "polite" : "off");
    };
    var timer = isNaN(ends) ? null : window.setInterval(tick, 1000);
    if (timer !== null) { tick(); }
  }

  // A second click on Pay while the first is on its way sends nothing more.
  var payForm = document.getElementById("pay-form");
  if (payForm) {
    payForm.addEventListener("submit", function () {
      var button = payForm.querySelector("button");
      window.setTimeout(function () { if (button) { button.disabled = true; } }, 0);
    });
  }

  // "Confirming your payment…": ask the site until the booking is settled, then show it.
  var confirming = document.querySelector("[data-poll]");
  if (confirming) {
    var url = confirming.getAttribute("data-poll");
    var ticket = confirming.getAttribute("data-ticket");
    var started = Date.now();
    var slowShown = false;
    var ask = function () {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .catch(function () { return null; })
        .then(function (state) {
          if (state && state.settled) {
            window.location.replace(ticket);
            return;
          }
          var waited = Date.now() - started;
          if (waited > 20000 && !slowShown) {
            var slow = document.querySelector("[data-slow]");
            if (slow) { slow.hidden = false; }
            slowShown = true;
          }
          // Quick at first, then gently: a slow confirmation is not worth a flood of requests.
          window.setTimeout(ask, waited < 10000 ? 700 : 3000);
        });
    };
    window.setTimeout(ask, 500);
  }
})();
