/* Shared by the pages: the translated strings, the CSRF pair, and JSON calls to the API. No framework. */
(function () {
  "use strict";
  var strings = JSON.parse(document.getElementById("strings").textContent || "{}");
  var csrfToken = null;

  function text(key, values) {
    var found = key.split(".").reduce(function (node, part) {
      return node && typeof node === "object" ? node[part] : undefined;
    }, strings);
    var message = typeof found === "string" ? found : key;
    Object.keys(values || {}).forEach(function (name) {
      message = message.split("{" + name + "}").join(String(values[name]));
    });
    return message;
  }

  /* The page's own token when it carries one (signed in, or a page with forms): asking /api/csrf for a
     new pair would replace the cookie the page's forms echo. */
  function csrf() {
    var meta = document.querySelector("meta[name=csrf-token]");
    if (!csrfToken && meta) csrfToken = meta.getAttribute("content");
    if (csrfToken) return Promise.resolve(csrfToken);
    return fetch("/api/csrf", { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) { csrfToken = body.csrfToken; return csrfToken; });
  }

  /* Sends JSON with the CSRF pair; resolves to {status, body} whatever the status (network errors reject). */
  function send(method, url, payload) {
    return csrf().then(function (token) {
      return fetch(url, {
        method: method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
        body: payload === undefined ? undefined : JSON.stringify(payload)
      });
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  function post(url, payload) { return send("POST", url, payload); }

  function show(element, message) {
    element.textContent = message || "";
    element.hidden = !message;
  }

  window.PopChoice = window.PopChoice || {};
  window.PopChoice.text = text;
  window.PopChoice.csrf = csrf;
  window.PopChoice.post = post;
  window.PopChoice.send = send;
  window.PopChoice.show = show;
  /* Hooks run after picks are (re)rendered, with the picks' container: the feedback buttons (#13) bind here. */
  window.PopChoice.onPicks = window.PopChoice.onPicks || [];
})();
