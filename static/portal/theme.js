// Bootstrap's colour mode follows the system's light or dark setting, and its changes.
// Loaded in <head>, before the page is drawn, so a dark system never sees a light flash.
(function () {
  "use strict";
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  function apply() {
    document.documentElement.setAttribute("data-bs-theme", dark.matches ? "dark" : "light");
  }
  apply();
  dark.addEventListener("change", apply);
})();
