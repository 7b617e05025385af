// Refreshes an operation's live part every 2 s until it has ended. No library.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || live.querySelector("[data-ended]").dataset.ended === "true") return;
  function refresh() {
    fetch(live.dataset.url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        live.innerHTML = html;
        if (live.querySelector("[data-ended]").dataset.ended !== "true") {
          window.setTimeout(refresh, 2000);
        }
      })
      .catch(function () { window.setTimeout(refresh, 5000); });
  }
  window.setTimeout(refresh, 2000);
})();
