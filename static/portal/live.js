// Refreshes each [data-live-url] part of a page from its URL every data-live-seconds (2 s if
// unset), until the part says it has ended ([data-ended="true"]). Paused while the tab is
// hidden; the part is replaced only when it changed, so screen readers hear changes only.
(function () {
  "use strict";
  function ended(part) {
    var marker = part.querySelector("[data-ended]");
    return marker !== null && marker.dataset.ended === "true";
  }
  function follow(part) {
    var seconds = Number(part.dataset.liveSeconds || 2);
    var last = null;
    function later(delay) { window.setTimeout(refresh, delay * 1000); }
    function refresh() {
      if (document.hidden) { later(seconds); return; }
      fetch(part.dataset.liveUrl, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.text();
        })
        .then(function (html) {
          if (html !== last) {
            part.innerHTML = html;
            last = html;
          }
          if (!ended(part)) later(seconds);
        })
        .catch(function () { later(seconds * 2.5); });
    }
    if (!ended(part)) later(seconds);
  }
  document.querySelectorAll("[data-live-url]").forEach(follow);
})();
