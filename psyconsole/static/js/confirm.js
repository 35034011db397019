// Asks before a button with data-confirm="question?" submits its form. An inline
// onclick would need 'unsafe-inline' in the Content-Security-Policy; this file does not.
(function () {
  "use strict";
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
