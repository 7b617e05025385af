// The serial console page: an xterm.js terminal wired to the panel's console WebSocket.
// Binary frames are the console; text frames are the panel's JSON notices. The link's token
// opens the socket once; a staff member refused because someone holds the console may take
// it over with the same (unspent) token.
(function () {
  "use strict";
  var screen = document.getElementById("console");
  var status = document.getElementById("console-status");
  var takeover = document.getElementById("console-takeover");
  var token = new URLSearchParams(window.location.search).get("token") || "";
  var terminal = new Terminal({ cursorBlink: true, scrollback: 5000 });
  var fit = new FitAddon.FitAddon();
  var socket = null;
  var encoder = new TextEncoder();
  terminal.loadAddon(fit);
  terminal.open(screen);
  fit.fit();
  window.addEventListener("resize", function () { fit.fit(); });
  terminal.onData(function (keys) {
    if (socket !== null && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(keys));
  });

  function connect(takingOver) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + screen.dataset.socketPath
      + "?token=" + encodeURIComponent(token) + (takingOver ? "&takeover=1" : "");
    status.textContent = "Connecting…";
    socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    socket.onmessage = function (event) {
      if (typeof event.data !== "string") {
        terminal.write(new Uint8Array(event.data));
        return;
      }
      var notice = JSON.parse(event.data);
      if (notice.type === "notice") {
        terminal.write("\r\n[" + notice.message + "]\r\n");
        return;
      }
      status.textContent = notice.message;
      screen.dataset.state = notice.type;
      if (notice.type === "open") terminal.focus();
    };
    socket.onclose = function (event) {
      if (screen.dataset.state !== "closed") {
        status.textContent = event.reason || "The connection to the panel was lost.";
        screen.dataset.state = "closed";
      }
      takeover.hidden = !(event.code === 4409 && screen.dataset.staff === "true");
    };
  }

  takeover.addEventListener("click", function () {
    takeover.hidden = true;
    screen.dataset.state = "";
    connect(true);
  });
  connect(false);
})();
