// Live countdowns: an element with data-countdown-until="<ISO 8601 instant>" shows the time left as
// "in m:ss", and data-countdown-done's text once the instant has passed. Without JavaScript the
// element keeps the server's "in N min". A static file, so the Content-Security-Policy needs no
// inline script.
(function () {
  "use strict";

  function render(element) {
    var until = Date.parse(element.getAttribute("data-countdown-until"));
    if (isNaN(until)) {
      return false;
    }
    var left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      element.textContent = element.getAttribute("data-countdown-done") || "0:00";
      element.classList.add("countdown--done");
      return false;
    }
    var minutes = Math.floor(left / 60);
    var seconds = left % 60;
    var text = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
    var label = element.querySelector(".countdown-time");
    if (!label) {
      var prefix = element.getAttribute("data-countdown-prefix");
      element.textContent = prefix ? prefix + " " : "";
      label = document.createElement("time");
      label.className = "countdown-time";
      element.appendChild(label);
    }
    label.textContent = text;
    label.setAttribute("datetime", "PT" + left + "S");
    return true;
  }

  function start() {
    var elements = Array.prototype.slice.call(document.querySelectorAll("[data-countdown-until]"));
    if (!elements.length) {
      return;
    }
    var timer = window.setInterval(function () {
      elements = elements.filter(render);
      if (!elements.length) {
        window.clearInterval(timer);
      }
    }, 1000);
    elements = elements.filter(render);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
