// Live console updates. A push is only a hint to re-read: the server stays the truth,
// so a missed message costs nothing but a moment's staleness.
(function () {
  "use strict";
  const script = document.currentScript;
  const path = script.dataset.wsPath;
  const liveState = () => document.getElementById("live-state");
  const questionPage = document.querySelector(".question-page");
  let delay = 1000;

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
      if (msg.event === "draft.progress" && questionPage
          && Number(questionPage.dataset.questionId) === Number(msg.question_id)) {
        const live = document.getElementById("live-draft");
        if (live) {
          live.hidden = false;
          live.querySelector("pre").textContent = String(msg.text);
          document.getElementById("live-candidate").textContent = String(Number(msg.candidate) + 1);
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
