// One way for the studio's pages to send JSON to the server: same-origin, with the CSRF token
// from <meta name="csrf-token">. Resolves the fetch Response; rejects only when the network fails.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  window.onestopPostJson = function (url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(payload)
    });
  };
})();
