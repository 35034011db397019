// Live console updates. A push is only a hint to re-read: the server stays the truth,
// so a missed message costs nothing but a moment's staleness.
(function () {
  "use strict";
  const script = document.currentScript;
  const path = script.dataset.wsPath;
  const liveState = () => document.getElementById("live-state");
  const questionPage = document.querySelector(".question-page");
  const supervisor = script.dataset.supervisor === "1";
  // Presence: a page tells the server every 20 s that it is still open (the server drops
  // an entry after PSY_PRESENCE_TTL_SECONDS without one).
  const HEARTBEAT_MS = 20000;
  let delay = 1000;

  function isThisQuestion(msg) {
    return questionPage && Number(questionPage.dataset.questionId) === Number(msg.question_id);
  }

  function showDraft(text, label) {
    const live = document.getElementById("live-draft");
    if (!live) { return; }
    live.hidden = false;
    live.querySelector("pre").textContent = text;
    const l = live.querySelector(".live-label");
    if (l) { l.textContent = label; }
    const beside = document.querySelector(".write-beside");
    if (beside) { beside.classList.add("with-live"); }
  }

  // A finished batch's sampled alternatives, listed as the page lists them after a
  // reload, so a counsellor need not reload (and lose unsaved text) to compare them.
  function showAlternatives(texts) {
    const box = document.getElementById("alternatives");
    if (!box || !Array.isArray(texts)) { return; }
    box.replaceChildren(...texts.map((text, i) => {
      const details = document.createElement("details");
      details.className = "alternative";
      const summary = document.createElement("summary");
      summary.textContent = "Alternative draft " + (i + 2);
      const pre = document.createElement("pre");
      pre.className = "reply";
      pre.textContent = String(text);
      details.append(summary, pre);
      return details;
    }));
  }

  // Says plainly where the draft stands, and offers "write without a draft" when it
  // failed or is slow.
  function setStatus(text, offerWriting) {
    const box = document.getElementById("drafting-status");
    if (!box) { return; }
    box.querySelector(".drafting-message").textContent = text;
    if (offerWriting) {
      box.classList.add("drafting-slow");
      const form = box.querySelector(".write-without-draft");
      if (form) { form.hidden = false; }
    }
  }

  if (questionPage) {
    const box = document.getElementById("drafting-status");
    if (box && box.dataset.slowAt) {
      const wait = Date.parse(box.dataset.slowAt) - Date.now();
      setTimeout(() => {
        if (box.dataset.state === "drafted") { return; }
        setStatus("Drafting is slow: there is still no draft. Don't wait for it: write without a draft.", true);
      }, Math.max(0, wait));
    }
    const insert = document.querySelector(".insert-draft");
    if (insert) {
      insert.addEventListener("click", () => {
        const area = document.querySelector(".editor textarea");
        const text = document.querySelector("#live-draft pre").textContent;
        if (!area || !text) { return; }
        area.value = area.value.trim() ? area.value.replace(/\s+$/, "") + "\n\n" + text : text;
        area.focus();
      });
    }
  }

  // The rubric's keys (documented on the page, #rubric-keys): r focuses the rubric;
  // in a dimension, 1-5 rate it and move to the next, 0 leaves it not rated; y/n answer
  // "medical advice given" from anywhere in the rubric; Enter saves. Keys typed into the
  // tags and note boxes are left alone (Enter in the tags box saves, as in any form).
  function initRubric(form) {
    const groups = Array.from(form.querySelectorAll("fieldset[data-dimension]"));
    if (!groups.length) { return; }
    const typing = (el) => el.matches("textarea, select, [contenteditable], input:not([type=radio]):not([type=checkbox])");
    const radios = (group) => Array.from(group.querySelectorAll("input[type=radio]"));
    function focusGroup(index) {
      if (index >= groups.length) {
        const next = form.querySelector("input[name=tags]") || form.querySelector("button[type=submit]");
        if (next) { next.focus(); }
        return;
      }
      const group = groups[index];
      const target = group.querySelector("input[type=radio]:checked") || radios(group)[0];
      if (target) { target.focus(); }
    }
    function choose(group, value) {
      const radio = radios(group).find((r) => r.value === value);
      if (!radio) { return false; }
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      return true;
    }
    groups.forEach((group) => {
      group.setAttribute("aria-keyshortcuts", group.dataset.level === "nominal" ? "y n 0" : "1 2 3 4 5 0");
    });
    form.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
      const group = event.target.closest("fieldset[data-dimension]");
      const index = groups.indexOf(group);
      const key = event.key.toLowerCase();
      if (key === "enter") {
        event.preventDefault();
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        return;
      }
      if (key === "y" || key === "n") {
        const nominal = group && group.dataset.level === "nominal" ? group
          : groups.find((g) => g.dataset.level === "nominal");
        if (nominal && choose(nominal, key === "y" ? "yes" : "no")) {
          event.preventDefault();
          if (nominal === group) { focusGroup(index + 1); }
        }
        return;
      }
      if (!group) { return; }
      let value = null;
      if (key === "0") { value = ""; }
      else if (/^[1-5]$/.test(key) && group.dataset.level === "ordinal") { value = key; }
      if (value !== null && choose(group, value)) {
        event.preventDefault();
        focusGroup(index + 1);
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "r" || event.ctrlKey || event.metaKey || event.altKey) { return; }
      if (typing(event.target) || form.contains(event.target)) { return; }
      event.preventDefault();
      focusGroup(0);
      form.scrollIntoView({ block: "nearest" });
    });
  }
  document.querySelectorAll("form[data-rubric]").forEach(initRubric);

  function showAlert(msg) {
    const box = document.getElementById("alerts");
    const div = document.createElement("div");
    div.className = "alert";
    const link = document.createElement("a");
    link.href = "/console/questions/" + Number(msg.question_id) + "/";
    link.textContent = (msg.escalated ? "Escalated " : "New ") + String(msg.risk_level) + "-risk question #" + Number(msg.question_id) + ": open it now";
    div.appendChild(link);
    box.prepend(div);
  }

  // A supervisor's SLA alert: a high or imminent question near its first-response
  // deadline with nobody on it. One banner a question, replaced when it comes again.
  function slaText(riskLevel, questionId, waitingSeconds, dueInSeconds) {
    const due = dueInSeconds >= 60 ? "deadline in " + span(dueInSeconds * 1000)
      : dueInSeconds > 0 ? "deadline in under a minute"
        : "deadline passed " + span(-dueInSeconds * 1000) + " ago";
    return "SLA: " + riskLevel + " question #" + questionId + " unclaimed for "
      + span(waitingSeconds * 1000) + " \u2014 " + due;
  }
  function showSlaAlert(msg) {
    const box = document.getElementById("alerts");
    if (!box) { return; }
    const id = Number(msg.question_id);
    const div = document.createElement("div");
    div.className = "alert sla-alert";
    div.dataset.slaQuestion = String(id);
    const link = document.createElement("a");
    link.href = "/console/questions/" + id + "/";
    link.textContent = slaText(String(msg.risk_level), id, Number(msg.waiting_seconds),
      Number(msg.due_in_seconds));
    div.appendChild(link);
    const old = box.querySelector('.sla-alert[data-sla-question="' + id + '"]');
    if (old) { old.replaceWith(div); } else { box.prepend(div); }
  }
  // After a reconnect: the server's list of questions near their deadline replaces ours.
  function replaceSlaAlerts(fresh) {
    const box = document.getElementById("alerts");
    const freshBox = fresh.getElementById("alerts");
    if (!box || !freshBox) { return; }
    box.querySelectorAll(".sla-alert").forEach((el) => el.remove());
    box.prepend(...Array.from(freshBox.querySelectorAll(".sla-alert")).map((el) => document.importNode(el, true)));
  }

  // Presence: who else has a question open, and who holds its claim. The server sends
  // names only, never this page's own user. Text changes only when it differs, so the
  // polite live region speaks only real changes.
  function setText(el, text) {
    if (el && el.textContent !== text) { el.textContent = text; }
  }
  function showPresence(msg) {
    const names = Array.isArray(msg.viewers) ? msg.viewers.map(String) : [];
    const marker = document.querySelector('.viewing[data-viewing="' + Number(msg.question_id) + '"]');
    setText(marker, names.length ? "viewing: " + names.join(", ") : "");
    if (!isThisQuestion(msg)) { return; }
    const box = document.getElementById("presence");
    if (!box) { return; }
    setText(box.querySelector(".also-viewing"), names.length ? "Also viewing: " + names.join(", ") : "");
    setText(box.querySelector(".claimed-by"), msg.claimed_by ? "Claimed by " + String(msg.claimed_by) : "");
  }

  // The queue's clocks ("Waiting", "First response due") tick between pushes: rows carry
  // their times in data attributes (data-since, data-due, data-overdue-since), and the
  // text is recomputed every 30 s, in the words Django's timesince uses.
  function span(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    const units = [["day", 1440], ["hour", 60], ["minute", 1]];
    const parts = [];
    let left = minutes;
    for (const [name, size] of units) {
      const n = Math.floor(left / size);
      if (n > 0 || (parts.length === 0 && size === 1)) { parts.push(n + "\u00a0" + name + (n === 1 ? "" : "s")); }
      left -= n * size;
      if (parts.length === 2 || (parts.length && n === 0)) { break; }
    }
    return parts.join(", ");
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = span(now - Date.parse(el.dataset.since));
    });
    document.querySelectorAll("[data-due]").forEach((el) => {
      const due = Date.parse(el.dataset.due);
      if (now < due) { el.textContent = "in " + span(due - now); return; }
      el.classList.add("breach");
      el.textContent = "overdue " + span(now - due);
    });
    document.querySelectorAll("[data-overdue-since]").forEach((el) => {
      el.textContent = "overdue " + span(now - Date.parse(el.dataset.overdueSince));
    });
  }
  if (document.getElementById("queue-rows")) { setInterval(tick, 30000); }

  // Pushes missed while the socket was down are gone (the channel layer delivers at most
  // once), so after a reconnect the page reads the server again: the queue re-renders,
  // and a question page takes a finished draft from a fresh copy of itself, leaving the
  // counsellor's text alone.
  function catchUp() {
    document.body.dispatchEvent(new Event("queue-changed"));
    if (!questionPage && !supervisor) { return; }
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then((response) => (response.ok ? response.text() : ""))
      .then((html) => {
        if (!html) { return; }
        const fresh = new DOMParser().parseFromString(html, "text/html");
        if (supervisor) { replaceSlaAlerts(fresh); }
        if (!questionPage) { return; }
        const pre = fresh.querySelector("#live-draft pre");
        const box = fresh.getElementById("drafting-status");
        const text = pre ? pre.textContent.trim() : "";
        if (text && (!box || box.dataset.state === "drafted")) {
          showDraft(text, "The model's draft (finished; your text is unchanged)");
          setStatus("A draft is ready beside your reply.", false);
          const mine = document.getElementById("drafting-status");
          if (mine) { mine.dataset.state = "drafted"; }
        }
      })
      .catch(() => {});
  }

  let connectedBefore = false;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + path);
    let heartbeat = null;
    socket.onopen = () => {
      delay = 1000;
      heartbeat = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify({ heartbeat: true })); }
      }, HEARTBEAT_MS);
      const s = liveState(); if (s) { s.textContent = "live"; s.classList.add("on"); }
      if (connectedBefore) { catchUp(); }
      connectedBefore = true;
    };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.event === "crisis.alert") { showAlert(msg); }
      if (msg.event === "sla_alert") { showSlaAlert(msg); }
      if (msg.event === "presence") { showPresence(msg); }
      if (msg.event === "draft.progress" && isThisQuestion(msg)) {
        // The streamed draft goes beside the counsellor's text, never into it.
        showDraft(String(msg.text), "The model's draft, being written now");
        document.getElementById("live-candidate").textContent = String(Number(msg.candidate) + 1);
      }
      if (msg.event === "drafting.ended" && isThisQuestion(msg)) {
        if (msg.outcome === "drafted") {
          showDraft(String(msg.text), "The model's draft (finished; your text is unchanged)");
          // The panel shows the first candidate's final text, whichever streamed last.
          const candidate = document.getElementById("live-candidate");
          if (candidate) { candidate.textContent = "1"; }
          showAlternatives(msg.alternatives);
          setStatus("A draft is ready beside your reply.", false);
          const box = document.getElementById("drafting-status");
          if (box) { box.dataset.state = "drafted"; }
        } else if (msg.outcome === "draft_failed") {
          setStatus("Drafting failed: there is no draft. Write the reply without one.", true);
        } else {
          setStatus("The draft was stopped. Write the reply without one.", true);
        }
      }
      if (msg.event === "question.changed") {
        document.body.dispatchEvent(new Event("queue-changed"));
        // Reload when this question's state moves on, unless the counsellor is editing.
        if (questionPage && Number(questionPage.dataset.questionId) === Number(msg.question_id)
            && msg.status !== "drafting" && !document.querySelector(".editor")) {
          location.reload();
        }
      }
    };
    socket.onclose = () => {
      clearInterval(heartbeat);
      const s = liveState(); if (s) { s.textContent = "reconnecting…"; s.classList.remove("on"); }
      setTimeout(connect, delay); delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
