// The seat map: every click holds or releases that seat at once, so a seat you picked is yours
// while you decide; the server answers 409 when someone else was faster.
(function () {
  const form = document.getElementById("seat-form");
  if (!form) return;
  const showtime = form.dataset.showtime;
  const message = document.getElementById("seat-message");
  const loggedIn = form.dataset.loggedIn === "yes";
  // The visitor's CSRF token: the site refuses a hold or release without it.
  const csrf = document.querySelector('meta[name="csrf-token"]');

  async function send(action, seatId) {
    const response = await fetch(`/showtimes/${showtime}/seats/${action}`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": csrf ? csrf.content : "",
      },
      body: JSON.stringify({ seat_ids: [seatId] }),
    });
    let body = {};
    try { body = await response.json(); } catch (e) { /* an empty answer is fine */ }
    return { ok: response.ok, status: response.status, detail: body.detail, taken: body.seat_ids };
  }

  // A cinema's rule: don't leave one empty seat stranded between taken seats or by an aisle.
  function strandedSeats() {
    const stranded = [];
    form.querySelectorAll(".row").forEach((row) => {
      const seats = Array.from(row.querySelectorAll(".seat"));
      const taken = seats.map((s) => {
        const input = s.querySelector("input");
        return input.checked || input.disabled;
      });
      const edge = (i) => i < 0 || i >= seats.length || (i < seats.length && seats[i].classList.contains("aisle"));
      seats.forEach((seat, i) => {
        if (taken[i]) return;
        const leftBlocked = i === 0 || taken[i - 1] || seats[i - 1].classList.contains("aisle");
        const rightBlocked = i === seats.length - 1 || taken[i + 1] || seat.classList.contains("aisle");
        const touchesSelection = (i > 0 && seats[i - 1].querySelector("input").checked) ||
          (i < seats.length - 1 && seats[i + 1].querySelector("input").checked);
        if (leftBlocked && rightBlocked && touchesSelection && !edge(-1)) {
          stranded.push(seat.querySelector("input").dataset.row + seat.querySelector("input").dataset.number);
        }
      });
    });
    return stranded;
  }

  function explain() {
    const stranded = strandedSeats();
    message.textContent = stranded.length
      ? `Your choice leaves a single empty seat at ${stranded.join(", ")}: consider moving over one.`
      : "";
  }

  form.addEventListener("change", async (event) => {
    const input = event.target;
    if (input.name !== "seat_ids") return;
    if (!loggedIn) {
      input.checked = false;
      message.textContent = "Log in to pick seats.";
      return;
    }
    const action = input.checked ? "hold" : "release";
    const result = await send(action, input.value);
    const label = input.closest(".seat");
    if (result.ok) {
      label.classList.toggle("mine", input.checked);
      label.classList.toggle("available", !input.checked);
      explain();
    } else {
      input.checked = !input.checked;
      // A 409 naming seats: someone else has this one. Other 409s (a fair-share cap) leave
      // the seat as it was: the message says how to free some.
      if (result.status === 409 && result.taken) {
        label.classList.add("held");
        input.disabled = true;
      }
      message.textContent = result.detail || "That seat could not be changed.";
    }
  });
})();
