// The seat map (showtime.html). Every pick holds that seat at once, so a seat you picked is yours
// while you decide; the server answers 409 when someone else was faster. Others' holds and sales
// arrive live from the booking service's seat stream (polling its delta when the stream fails).
// The map is an ARIA grid: one Tab stop, arrow keys between seats, Space or Enter to pick.
(function () {
  "use strict";
  const form = document.getElementById("seat-form");
  if (!form) return;
  const grid = form.querySelector('[role="grid"]');
  const showtime = form.dataset.showtime;
  const loggedIn = form.dataset.loggedIn === "yes";
  const prices = { standard: Number(form.dataset.priceStandard), vip: Number(form.dataset.priceVip) };
  const TYPE_NAMES = { standard: "Standard", vip: "VIP" };
  const STATUSES = ["available", "held", "booked", "mine"];
  const POLL_MS = 2000;
  // A stream event this soon after our own hold may predate it: it does not undo the hold.
  const SETTLE_MS = 3000;
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const message = document.getElementById("seat-message");
  const warning = document.getElementById("seat-warning");
  const freeCount = document.querySelector('[data-testid="available-count"]');
  const countdown = form.querySelector('[data-testid="hold-countdown"]');
  const selected = form.querySelector('[data-testid="selected-seats"]');
  const priceLines = form.querySelector('[data-testid="price-lines"]');
  const total = form.querySelector('[data-testid="total"]');

  // A hall wider than the screen scrolls inside its box: say so, or a phone's customer may
  // never learn that seats lie past the edge.
  const scrollHint = form.querySelector('[data-testid="scroll-hint"]');
  function showScrollHint() {
    if (scrollHint) scrollHint.hidden = grid.scrollWidth <= grid.clientWidth + 1;
  }
  showScrollHint();
  window.addEventListener("resize", showScrollHint);

  const rows = Array.from(grid.querySelectorAll('[role="row"]')).map((row) =>
    Array.from(row.querySelectorAll('input[name="seat_ids"]')));
  const inputs = rows.flat();
  const byId = new Map(inputs.map((input) => [input.value, input]));

  // The stream is anonymous: it calls this visitor's seats "held" like anyone else's, so the
  // page remembers which are theirs, when they picked them and when each hold runs out.
  const mine = new Set(inputs.filter((i) => i.dataset.status === "mine").map((i) => i.value));
  const heldAt = new Map();
  const expiry = new Map();
  const pending = new Set(); // a hold or release of these is on its way
  const feedStatus = new Map(); // what the stream last said of seats that were pending

  const money = (amount) =>
    `${new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }).format(amount)} ₫`;

  // --- Showing a seat's status ---------------------------------------------------------------

  function show(input, status) {
    input.dataset.status = status;
    const cell = input.closest(".seat");
    STATUSES.forEach((s) => cell.classList.toggle(s, s === status));
    input.checked = status === "mine";
    if (status === "held" || status === "booked") input.setAttribute("aria-disabled", "true");
    else input.removeAttribute("aria-disabled");
    input.setAttribute("aria-describedby", `seat-status-${status} seat-type-${input.dataset.type}`);
  }

  function refresh() {
    freeCount.textContent = String(inputs.filter((i) => i.dataset.status === "available").length);
    summarize();
    explainStrands();
  }

  // --- The running summary and the hold countdown ---------------------------------------------

  function summarize() {
    const picked = inputs.filter((i) => i.dataset.status === "mine");
    selected.textContent = picked.length
      ? `Seats ${picked.map((i) => i.dataset.seat).join(", ")}`
      : "No seats picked yet.";
    priceLines.replaceChildren();
    let sum = 0;
    Object.keys(TYPE_NAMES).forEach((type) => {
      const count = picked.filter((i) => i.dataset.type === type).length;
      if (!count) return;
      const li = document.createElement("li");
      li.textContent = `${count} × ${TYPE_NAMES[type]} at ${money(prices[type])} = ${money(count * prices[type])}`;
      priceLines.append(li);
      sum += count * prices[type];
    });
    total.textContent = money(sum);
  }

  function tick() {
    const ends = Array.from(mine).map((id) => expiry.get(id)).filter((t) => t !== undefined);
    if (!ends.length) {
      countdown.hidden = true;
      return;
    }
    const left = Math.min(...ends) - Date.now();
    if (left <= 0) {
      // The earliest hold ran out: those seats are free again for everyone.
      Array.from(mine).filter((id) => (expiry.get(id) || Infinity) <= Date.now()).forEach((id) => {
        forget(id);
        show(byId.get(id), "available");
      });
      message.textContent = "Your hold ran out: pick the seats again to keep them.";
      refresh();
      tick();
      return;
    }
    const seconds = Math.ceil(left / 1000);
    countdown.querySelector(".clock-left").textContent =
      `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    countdown.hidden = false;
  }

  function forget(id) {
    mine.delete(id);
    expiry.delete(id);
    heldAt.delete(id);
  }

  // --- The cinema's rule: no single empty seat stranded (mirrors booking/seat_rules.py) -------

  // A row cut at its aisles and at gaps in the numbering.
  function blocksOf(row) {
    const blocks = [];
    let current = [];
    row.forEach((input) => {
      const last = current[current.length - 1];
      if (last && (last.dataset.aisle === "yes" ||
          Number(input.dataset.number) !== Number(last.dataset.number) + 1)) {
        blocks.push(current);
        current = [];
      }
      current.push(input);
    });
    if (current.length) blocks.push(current);
    return blocks;
  }

  // The stretches of seats for which `taken` is false.
  function runsOf(seats, taken) {
    const runs = [];
    let current = [];
    seats.forEach((input) => {
      if (taken(input)) {
        if (current.length) runs.push(current);
        current = [];
      } else {
        current.push(input);
      }
    });
    if (current.length) runs.push(current);
    return runs;
  }

  // Single seats the visitor's picks leave free between taken seats, an aisle or the row's end;
  // allowed when unavoidable (the free stretch was one seat longer than what was picked in it).
  function strandedSeats() {
    const others = (i) => i.dataset.status === "held" || i.dataset.status === "booked";
    const notFree = (i) => i.dataset.status !== "available";
    const stranded = [];
    rows.forEach((row) => blocksOf(row).forEach((block) => runsOf(block, others).forEach((run) => {
      const picked = run.filter((i) => i.dataset.status === "mine").length;
      if (picked === 0 || run.length - picked === 1) return;
      runsOf(run, notFree).forEach((r) => { if (r.length === 1) stranded.push(r[0].dataset.seat); });
    })));
    return stranded;
  }

  function explainStrands() {
    const stranded = strandedSeats();
    warning.textContent = stranded.length
      ? `Your choice leaves a single empty seat at ${stranded.join(", ")}: consider moving over one.`
      : "";
    warning.hidden = !stranded.length;
  }

  // --- Holding and releasing ---------------------------------------------------------------

  async function send(action, seatIds, payload = { seat_ids: seatIds }) {
    try {
      const response = await fetch(`/showtimes/${showtime}/seats/${action}`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRF-Token": csrf ? csrf.content : "",
        },
        body: JSON.stringify(payload),
      });
      let body = {};
      try { body = await response.json(); } catch (e) { /* an empty answer is fine */ }
      return { ok: response.ok, status: response.status, body };
    } catch (e) {
      return { ok: false, status: 0, body: { detail: "The connection failed: try again." } };
    }
  }

  // Seats the server now holds for this visitor, until the answer's expiry.
  function markHeld(seatIds, answer) {
    const ttl = answer.expires_at ? Number(answer.hold_ttl_seconds) * 1000 : 0;
    seatIds.forEach((id) => {
      mine.add(id);
      heldAt.set(id, Date.now());
      if (ttl) expiry.set(id, Date.now() + ttl);
      feedStatus.delete(id);
      show(byId.get(id), "mine");
    });
  }

  async function change(action, seatIds) {
    seatIds.forEach((id) => pending.add(id));
    const result = await send(action, seatIds);
    seatIds.forEach((id) => pending.delete(id));
    if (result.ok && action === "hold") {
      markHeld(seatIds, result.body);
      message.textContent = "";
    } else if (result.ok) {
      seatIds.forEach((id) => {
        forget(id);
        show(byId.get(id), feedStatus.get(id) === "booked" ? "booked" : "available");
      });
      message.textContent = "";
    } else {
      const taken = new Set(result.status === 409 && result.body.seat_ids ? result.body.seat_ids : []);
      seatIds.forEach((id) => {
        // Someone else has a seat the error names; any other refusal (a fair-share cap, a
        // lost connection) leaves every seat as it was.
        if (taken.has(id)) {
          forget(id);
          show(byId.get(id), "held");
        } else {
          show(byId.get(id), mine.has(id) ? "mine" : (feedStatus.get(id) || "available"));
        }
      });
      message.textContent = result.body.detail || "That seat could not be changed.";
    }
    seatIds.forEach((id) => feedStatus.delete(id));
    refresh();
    tick();
    return result.ok;
  }

  function pick(input) {
    if (!loggedIn) {
      input.checked = false;
      message.textContent = "Log in to pick seats.";
      return;
    }
    if (pending.has(input.value)) return;
    const status = input.dataset.status;
    if (status === "held" || status === "booked") {
      message.textContent = `Seat ${input.dataset.seat} is ${status === "held" ? "held by another customer" : "sold"}.`;
      return;
    }
    change(status === "mine" ? "release" : "hold", [input.value]);
  }

  // A click (or Space, which clicks a checkbox) picks; the page, not the browser, ticks the box.
  grid.addEventListener("click", (event) => {
    const input = event.target.closest('input[name="seat_ids"]');
    if (!input) return;
    event.preventDefault();
    pick(input);
  });

  // --- Best seats -------------------------------------------------------------------------------

  const bestButton = form.querySelector('[data-testid="best-seats"]');
  const bestCount = document.getElementById("best-count");
  bestButton.addEventListener("click", async () => {
    if (!loggedIn) {
      message.textContent = "Log in to pick seats.";
      return;
    }
    const count = Math.max(1, Math.min(Number(bestCount.max) || 10, Math.floor(Number(bestCount.value)) || 2));
    bestButton.disabled = true;
    try {
      // Your current picks are let go first, so the best block may use them too.
      if (mine.size) await change("release", Array.from(mine));
      // One request: the server picks the best block and holds it, or the next best should
      // someone take that one first (in a rush, a suggestion could be gone by the hold).
      const result = await send("hold-best", [], { count });
      const ids = result.ok ? (result.body.seat_ids || []).map(String).filter((id) => byId.has(id)) : [];
      if (!ids.length) {
        message.textContent = result.status === 409 && result.body.detail
          ? `${result.body.detail}.`
          : (result.body.detail || "Best seats could not be found: try again.");
        return;
      }
      markHeld(ids, result.body);
      refresh();
      tick();
      message.textContent = `Holding the best ${count}: ${ids.map((id) => byId.get(id).dataset.seat).join(", ")}.`;
      focusSeat(byId.get(ids[0]), false);
    } catch (e) {
      message.textContent = "Best seats could not be found: try again.";
    } finally {
      bestButton.disabled = false;
    }
  });

  // --- Keyboard: the ARIA grid pattern ----------------------------------------------------------

  let current = inputs.find((i) => i.dataset.status === "mine") ||
    inputs.find((i) => i.dataset.status === "available") || inputs[0];
  inputs.forEach((input) => { input.tabIndex = input === current ? 0 : -1; });

  function focusSeat(input, focus = true) {
    if (!input) return;
    current.tabIndex = -1;
    current = input;
    current.tabIndex = 0;
    if (focus) current.focus();
  }

  function position(input) {
    const r = rows.findIndex((row) => row.includes(input));
    return [r, rows[r].indexOf(input)];
  }

  // The seat of `row` nearest to seat number `number` (rows may differ in length).
  function nearest(row, number) {
    return row.reduce((best, input) =>
      Math.abs(Number(input.dataset.number) - number) < Math.abs(Number(best.dataset.number) - number)
        ? input : best);
  }

  grid.addEventListener("focusin", (event) => {
    if (byId.has(event.target.value)) focusSeat(event.target, false);
  });

  grid.addEventListener("keydown", (event) => {
    const input = event.target;
    if (!byId.has(input.value)) return;
    const [r, c] = position(input);
    const row = rows[r];
    let next = null;
    switch (event.key) {
      case "ArrowRight": next = row[c + 1]; break;
      case "ArrowLeft": next = row[c - 1]; break;
      case "ArrowDown": next = rows[r + 1] && nearest(rows[r + 1], Number(input.dataset.number)); break;
      case "ArrowUp": next = rows[r - 1] && nearest(rows[r - 1], Number(input.dataset.number)); break;
      case "Home": next = event.ctrlKey ? inputs[0] : row[0]; break;
      case "End": next = event.ctrlKey ? inputs[inputs.length - 1] : row[row.length - 1]; break;
      case "Enter":
        event.preventDefault(); // never submit the form from a seat
        pick(input);
        return;
      default:
        return;
    }
    event.preventDefault();
    if (next) focusSeat(next);
  });

  // --- Live: the seat stream, or polling its delta ----------------------------------------------

  // What the stream says of one seat ("held" for every hold, ours included).
  function heard(id, status) {
    const input = byId.get(id);
    if (!input) return;
    if (pending.has(id)) {
      feedStatus.set(id, status);
      return;
    }
    if (mine.has(id)) {
      if (status === "held" || status === "mine") return show(input, "mine");
      if (Date.now() - (heldAt.get(id) || 0) < SETTLE_MS) return; // older than our hold
      forget(id); // sold, or our hold ended
    }
    show(input, status === "mine" ? "available" : status);
  }

  function apply(data, full) {
    const seats = data.seats || {};
    if (full) inputs.forEach((input) => heard(input.value, seats[input.value] || "available"));
    else Object.keys(seats).forEach((id) => heard(id, seats[id]));
    refresh();
    tick();
  }

  let version = null;
  function poll() {
    form.dataset.live = "poll";
    const since = version === null ? "" : `?since=${version}`;
    fetch(`/api/bookings/showtimes/${showtime}/seat-status${since}`, { headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((data) => {
        if (data) {
          version = data.version;
          apply(data, data.full);
        }
      })
      .catch(() => { /* try again at the next turn */ })
      .finally(() => setTimeout(poll, POLL_MS));
  }

  function listen() {
    if (!window.EventSource) return poll();
    const source = new EventSource(`/api/bookings/showtimes/${showtime}/seat-events`);
    let failures = 0;
    const on = (full) => (event) => {
      failures = 0;
      form.dataset.live = "stream"; // which way the news comes (tests and curious people)
      const data = JSON.parse(event.data);
      version = data.version;
      apply(data, full);
    };
    source.addEventListener("snapshot", on(true));
    source.addEventListener("change", on(false));
    source.addEventListener("error", () => {
      // The browser reconnects by itself; a stream that never worked, or keeps failing, gives
      // way to polling.
      failures += 1;
      if (source.readyState === EventSource.CLOSED || !form.dataset.live || failures >= 3) {
        source.close();
        poll();
      }
    });
  }

  // Seats already held when the page loads (a reload): holding them again says until when.
  if (loggedIn && mine.size) change("hold", Array.from(mine));
  setInterval(tick, 1000);
  refresh();
  listen();
})();
