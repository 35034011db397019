// Live console updates. A push is only a hint to re-read: the server stays the truth,
// so a missed message costs nothing but a moment's staleness.
(function () {
  "use strict";
  const script = document.currentScript;
  const path = script.dataset.wsPath;
  const liveState = () => document.getElementById("live-state");
  const questionPage = document.querySelector(".question-page");
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

  function showAlert(msg) {
    const box = document.getElementById("alerts");
    const div = document.createElement("div");
    div.className = "alert";
    const link = document.createElement("a");
    link.href = "/console/questions/" + Number(msg.question_id) + "/";
    link.textContent = "New " + String(msg.risk_level) + "-risk question #" + Number(msg.question_id) + ": open it now";
    div.appendChild(link);
    box.prepend(div);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + path);
    socket.onopen = () => { delay = 1000; const s = liveState(); if (s) { s.textContent = "live"; s.classList.add("on"); } };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.event === "crisis.alert") { showAlert(msg); }
      if (msg.event === "draft.progress" && isThisQuestion(msg)) {
        // The streamed draft goes beside the counsellor's text, never into it.
        showDraft(String(msg.text), "The model's draft, being written now");
        document.getElementById("live-candidate").textContent = String(Number(msg.candidate) + 1);
      }
      if (msg.event === "drafting.ended" && isThisQuestion(msg)) {
        if (msg.outcome === "drafted") {
          showDraft(String(msg.text), "The model's draft (finished; your text is unchanged)");
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
      const s = liveState(); if (s) { s.textContent = "reconnecting…"; s.classList.remove("on"); }
      setTimeout(connect, delay); delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
