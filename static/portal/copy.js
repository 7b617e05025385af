// A [data-copy="ID"] button copies the value of the element with that id, then says so.
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copy);
      function done(text) {
        button.textContent = text;
        window.setTimeout(function () { button.textContent = label; }, 2000);
      }
      field.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(
          function () { done(button.dataset.copied || "Copied"); },
          function () { done("Press Ctrl+C"); }
        );
      } else {
        done(document.execCommand("copy") ? button.dataset.copied || "Copied" : "Press Ctrl+C");
      }
    });
  });
})();
