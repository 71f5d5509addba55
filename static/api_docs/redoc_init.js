"use strict";
// Starts Redoc from a static file, so that the page needs no inline script. Redoc's run-time <style>
// elements get this script's nonce, which the page's Content-Security-Policy allows for styles.
(function () {
  const container = document.getElementById("redoc-container");
  const settings = JSON.parse(container.dataset.settings || "{}");
  Redoc.init(container.dataset.specUrl, { ...settings, nonce: document.currentScript.nonce }, container);
})();
