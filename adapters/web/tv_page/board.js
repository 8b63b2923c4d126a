// The TV board: renders the board it is given, rotates its slides, and follows /events live.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const W = JSON.parse($("tv-words").textContent);
  let board = JSON.parse($("tv-board").textContent);
  const firstDay = board.day;
  const params = new URLSearchParams(location.search);
  const pinned = params.get("view"); // a screen that shows one slide only: people | race | goal | winners
  const SLIDE_MS = Math.max(4, Number(params.get("rotate")) || 12) * 1000;
  const XIBAO_MS = 6000;
  const RACE_ROWS = 6;

  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const dealsText = (n) => fill(n === 1 ? W.deals_one : W.deals, { n });
  const pct = (share) => Math.round(Math.max(0, Math.min(share, 1)) * 1000) / 10 + "%";

  // ----- drawing -----------------------------------------------------------------------------------
  function renderHeader() {
    $("team-name").textContent = board.team;
    document.title = fill(W.page_title, { team: board.team });
    const total = $("today-total");
    if (total.textContent !== board.total) {
      total.textContent = board.total;
      total.classList.remove("bump");
      void total.offsetWidth; // restart the animation
      total.classList.add("bump");
    }
    $("today-deals").textContent = dealsText(board.deals);
  }

  function renderPeople() {
    const list = $("people-list");
    list.replaceChildren(
      ...board.people.map((p) => {
        const li = el("li", "person r" + p.rank);
        const bar = el("div", "bar-bg");
        bar.style.width = pct(Math.max(p.share, 0.04));
        const amount = el("div", "pamount", p.amount);
        amount.append(el("span", "pdeals", dealsText(p.deals)));
        li.append(bar, el("div", "rank", String(p.rank)), el("div", "pname", p.name), amount);
        return li;
      })
    );
    list.classList.toggle("two", board.people.length > 5);
    list.style.setProperty("--rows", String(Math.max(1, Math.min(board.people.length, 5))));
    $("slide-people").classList.toggle("is-empty", board.people.length === 0);
  }

  function renderRace() {
    const race = board.race;
    const rows = race.rows.slice(0, RACE_ROWS);
    $("race-list").replaceChildren(
      ...rows.map((g) => {
        const li = el("li", "team-row r" + g.rank);
        const name = el("div", "team-name", g.name);
        if (g.slogan) name.append(el("span", "slogan", g.slogan));
        const track = el("div", "track");
        const runner = el("div", "runner");
        runner.style.width = pct(g.share);
        runner.hidden = !(g.share > 0); // no sales yet: an empty track, not a stub
        const value = el("div", "value", g.value);
        if (race.metric !== "per_capita") value.append(el("small", null, fill(W.per_capita, { value: g.per_capita })));
        track.append(runner, value);
        li.append(el("div", "rank", String(g.rank)), name, track);
        return li;
      })
    );
    let sub = "";
    if (race.name) {
      const left = race.days_left <= 1 ? W.race_last_day : fill(W.race_days_left, { n: race.days_left });
      sub = fill(W.race_named, { name: race.name }) + " · " + left;
    }
    $("race-sub").textContent = sub;
    $("race-list").classList.toggle("many", rows.length > 3);
    $("slide-race").classList.toggle("is-empty", rows.length === 0);
  }

  function renderGoal() {
    const g = board.goal;
    $("slide-goal").classList.toggle("is-empty", !g);
    if (!g) return;
    $("goal-label").textContent = g.label;
    $("goal-pct").textContent = Math.floor(g.ratio * 100) + "%";
    $("goal-actual").textContent = g.actual;
    $("goal-target").textContent = g.target;
    $("goal-fill").style.height = pct(g.ratio);
    const pace = $("goal-pace");
    pace.classList.toggle("reached", g.reached);
    const left = fill(W.goal_remaining, { remaining: g.remaining });
    if (g.reached) pace.textContent = W.goal_reached;
    else if (g.pace) pace.textContent = left + " · " + fill(W.goal_pace, { days: g.workdays_left, pace: g.pace });
    else pace.textContent = left + " · " + W.goal_no_days;
  }

  function renderWinners() {
    const w = board.winners;
    if (!w) return;
    $("winners-of").textContent = fill(W.winners_of, { name: w.name }) + " " + W.winners_title;
    $("winners-names").textContent = w.groups.map((g) => g.name).join(" · ");
    $("winners-slogan").textContent = w.groups.map((g) => g.slogan).filter(Boolean).join(" / ");
    $("winners-value").textContent = w.value;
    $("winners-stake").textContent = w.stake || "";
  }

  function renderAll() {
    renderHeader();
    renderPeople();
    renderRace();
    renderGoal();
    renderWinners();
    $("slide-title").textContent = titleOf(current);
  }

  // ----- rotation ----------------------------------------------------------------------------------
  function slides() {
    if (pinned && document.querySelector(`[data-slide="${CSS.escape(pinned)}"]`)) return [pinned];
    return board.winners ? ["winners", "people", "race", "goal"] : ["people", "race", "goal"];
  }
  function titleOf(name) {
    if (name === "race") return board.race.name ? W.race_pk : W.race_week;
    return { people: W.people_title, goal: W.goal_title, winners: W.winners_title }[name] || "";
  }
  let order = slides();
  let index = 0;
  let current = order[0];
  let slideStart = Date.now();
  let celebrating = false;

  function show(name) {
    current = name;
    slideStart = Date.now();
    document.querySelectorAll(".slide").forEach((s) => s.classList.toggle("active", s.dataset.slide === name));
    $("slide-title").textContent = titleOf(name);
    $("dots").replaceChildren(...order.map((n) => el("span", n === name ? "on" : "")));
  }
  function next() {
    order = slides();
    index = (order.indexOf(current) + 1) % order.length;
    show(order[index]);
  }
  setInterval(() => {
    if (celebrating) return;
    const length = SLIDE_MS * (current === "winners" ? 2 : 1);
    const done = (Date.now() - slideStart) / length;
    $("progress-bar").style.width = order.length > 1 ? pct(done) : "0%";
    if (done >= 1 && order.length > 1) next();
  }, 250);

  // ----- the 喜报 ----------------------------------------------------------------------------------
  const waiting = [];
  const celebrated = new Set();
  function celebrate(deal) {
    if (celebrated.has(deal.deal)) return; // a reconnect may replay one
    celebrated.add(deal.deal);
    waiting.push(deal);
    if (!celebrating) nextXibao();
  }
  function nextXibao() {
    const box = $("xibao");
    const deal = waiting.shift();
    if (!deal) {
      celebrating = false;
      box.hidden = true;
      show(current); // the interrupted slide starts over
      return;
    }
    celebrating = true;
    $("xibao-name").textContent = deal.name;
    $("xibao-amount").textContent = deal.amount;
    $("xibao-total").textContent = fill(W.xibao_total, { total: deal.total });
    box.hidden = false;
    const card = box.querySelector(".xibao-card");
    card.style.animation = "none";
    void card.offsetWidth;
    card.style.animation = "";
    setTimeout(nextXibao, waiting.length > 2 ? XIBAO_MS / 2 : XIBAO_MS);
  }

  // ----- clock -------------------------------------------------------------------------------------
  const clock = (() => {
    try {
      return new Intl.DateTimeFormat("en-GB", { timeZone: board.timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    } catch (error) {
      return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    }
  })();
  function tickClock() {
    $("clock-time").textContent = clock.format(new Date()); // the team's time, wherever the screen is
    const [y, m, d] = board.day.split("-").map(Number);
    $("clock-day").textContent = fill(W.date, { year: y, month: m, day: d, weekday: W.weekdays[board.weekday - 1] });
  }
  setInterval(tickClock, 1000);

  // ----- live --------------------------------------------------------------------------------------
  let lastId = "";
  let source = null;
  function notice(text) {
    $("notice").textContent = text;
    $("notice").hidden = !text;
  }
  function connect() {
    const query = new URLSearchParams(location.search);
    if (lastId) query.set("last", lastId);
    source = new EventSource(location.pathname.replace(/\/$/, "") + "/events?" + query.toString());
    const seen = (e) => { if (e.lastEventId) lastId = e.lastEventId; };
    source.onopen = () => { $("live").className = "live on"; notice(""); };
    source.onerror = () => {
      $("live").className = "live retry";
      if (source.readyState === EventSource.CLOSED) checkKey(); // refused, not just dropped
    };
    source.addEventListener("board", (e) => {
      seen(e);
      const hadWinners = !!board.winners;
      board = JSON.parse(e.data);
      if (board.day !== firstDay) location.reload(); // a new day: pick up a newer page too
      renderAll();
      if (!hadWinners && board.winners && !pinned) { order = slides(); show("winners"); }
    });
    source.addEventListener("deal", (e) => { seen(e); celebrate(JSON.parse(e.data)); });
    source.addEventListener("revoked", () => { source.close(); revoked(); });
  }
  function revoked() {
    $("live").className = "live";
    notice(W.revoked);
  }
  function checkKey() {
    fetch(location.href, { cache: "no-store" })
      .then((answer) => {
        if (answer.status === 401 || answer.status === 404) revoked();
        else { notice(W.offline); setTimeout(connect, 5000); }
      })
      .catch(() => { notice(W.offline); setTimeout(checkKey, 5000); });
  }

  renderAll();
  show(current);
  tickClock();
  connect();
})();
