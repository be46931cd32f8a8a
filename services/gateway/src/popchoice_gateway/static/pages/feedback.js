/* The feedback buttons on the picks of one's own recommendation: each pick's form goes to the JSON API
   instead of reloading the page. One feedback per pick: pressing a kind gives it (replacing another),
   pressing the pressed one takes it back. aria-pressed follows what the API stored. */
(function () {
  "use strict";
  var P = window.PopChoice;

  function failure(status) {
    if (status === 401) return "feedback_signin";
    if (status === 403) return "feedback_not_yours";
    if (status === 429) return "rate_limited";
    return "feedback_failed";
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("feedback")) return;
    var button = event.submitter;
    if (!button || !button.value) return;
    event.preventDefault();
    var buttons = Array.prototype.slice.call(form.querySelectorAll("button[name=kind]"));
    var status = form.querySelector(".feedback-status");
    var key = form.getAttribute("data-movie-key");
    var url = "/api/recommendations/" + encodeURIComponent(form.getAttribute("data-recommendation")) + "/feedback";
    var undo = button.getAttribute("aria-pressed") === "true";
    buttons.forEach(function (each) { each.disabled = true; });
    var call = undo
      ? P.send("DELETE", url + "?movieKey=" + encodeURIComponent(key))
      : P.send("POST", url, { movieKey: key, kind: button.value });
    call.then(function (answer) {
      // 404 on undo: nothing was stored any more (another tab took it back), which is what was asked.
      var done = undo ? answer.status === 204 || answer.status === 404 : answer.status === 200;
      if (done) {
        buttons.forEach(function (each) {
          each.setAttribute("aria-pressed", String(!undo && each === button));
        });
      }
      status.textContent = P.text(done ? (undo ? "feedback_removed" : "feedback_saved") : failure(answer.status));
      status.classList.toggle("error-text", !done);
    }).catch(function () {
      status.textContent = P.text("network");
      status.classList.add("error-text");
    }).then(function () {
      buttons.forEach(function (each) { each.disabled = false; });
      button.focus();
    });
  });
})();
