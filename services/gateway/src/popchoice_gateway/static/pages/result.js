/* The result and share pages: follow the stages over SSE (polling when EventSource fails), swap in the
   server-rendered picks, ask for more picks, copy the share link. */
(function () {
  "use strict";
  var P = window.PopChoice;
  var root = document.getElementById("result");
  var key = root.getAttribute("data-key");
  var readonly = root.getAttribute("data-readonly") === "true";
  var picks = document.getElementById("picks");
  var progress = root.querySelector(".progress");
  var progressText = document.getElementById("progress-text");
  var progressFill = document.getElementById("progress-fill");
  var actions = document.getElementById("result-actions");
  var share = document.getElementById("share");
  var moreButton = document.getElementById("more-picks");
  var moreStatus = document.getElementById("more-status");
  var STAGES = ["queued", "preparing", "embedding", "local-search", "tmdb-search", "ai-ranking", "posters",
    "descriptions", "complete"];
  var POLL_MS = 1000;
  var finished = false;

  function showStage(stage) {
    progressText.textContent = P.text("stage." + stage);
    var at = STAGES.indexOf(stage);
    if (progressFill && at >= 0) progressFill.style.width = Math.round(((at + 1) / STAGES.length) * 100) + "%";
  }

  function runHooks() {
    P.onPicks.forEach(function (hook) {
      try { hook(picks); } catch (error) { /* one hook's failure leaves the page working */ }
    });
  }

  /* The picks as the server renders them (one template for the first render and every update). */
  function loadPicks() {
    return fetch("/picks/" + encodeURIComponent(key) + (readonly ? "?readonly=true" : ""), { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        picks.innerHTML = html;
        picks.setAttribute("aria-busy", "false");
        var rendered = picks.querySelector(".picks");
        var status = rendered ? rendered.getAttribute("data-status") : "";
        progress.hidden = true;
        if (actions) actions.hidden = status !== "completed";
        if (share) share.hidden = status !== "completed";
        runHooks();
        return rendered ? rendered.getAttribute("data-more-status") : "";
      });
  }

  function finish(status) {
    if (finished) return;
    finished = true;
    showStage(status === "failed" ? "failed" : "complete");
    loadPicks();
  }

  function poll() {
    fetch("/api/recommendations/" + encodeURIComponent(key), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) { setTimeout(poll, POLL_MS * 2); return; }
        if (body.status === "completed" || body.status === "failed") { finish(body.status); return; }
        showStage(body.stage);
        setTimeout(poll, POLL_MS);
      })
      .catch(function () { setTimeout(poll, POLL_MS * 2); });
  }

  function follow() {
    if (!window.EventSource) { poll(); return; }
    var source = new EventSource("/api/recommendations/" + encodeURIComponent(key) + "/events");
    source.addEventListener("stage", function (event) {
      var data = JSON.parse(event.data);
      showStage(data.stage);
    });
    source.addEventListener("result", function (event) {
      source.close();
      finish(JSON.parse(event.data).status);
    });
    source.addEventListener("timeout", function () {
      source.close();
      progressText.textContent = P.text("timeout");
      poll();
    });
    source.onerror = function () {
      // Closed before the result (a proxy without streaming, a dropped connection): poll instead.
      source.close();
      if (!finished) poll();
    };
  }

  /* More picks: claim a batch, then re-read until it is done and swap the picks in again. */
  function waitForMore() {
    fetch("/api/recommendations/" + encodeURIComponent(key), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        var state = body ? body.morePicksStatus : null;
        if (state === "pending" || state === "processing") { setTimeout(waitForMore, POLL_MS); return; }
        loadPicks().then(function () {
          moreButton.disabled = false;
          moreStatus.textContent = P.text(state === "failed" ? "more_failed" : "more_ready");
          var batches = picks.querySelectorAll(".batch");
          if (state !== "failed" && batches.length) {
            var newest = batches[batches.length - 1];
            newest.querySelector("h2").setAttribute("tabindex", "-1");
            newest.querySelector("h2").focus();
          }
        });
      })
      .catch(function () { setTimeout(waitForMore, POLL_MS * 2); });
  }

  if (moreButton) {
    moreButton.addEventListener("click", function () {
      moreButton.disabled = true;
      moreStatus.textContent = P.text("more_pending");
      P.post("/api/recommendations/" + encodeURIComponent(key) + "/more-picks")
        .then(function (answer) {
          if (answer.status === 202) { waitForMore(); return; }
          if (answer.status === 409) { moreStatus.textContent = P.text("more_conflict"); waitForMore(); return; }
          moreButton.disabled = false;
          moreStatus.textContent = P.text(answer.status === 429 ? "rate_limited" : "more_failed");
        })
        .catch(function () {
          moreButton.disabled = false;
          moreStatus.textContent = P.text("network");
        });
    });
  }

  var copyButton = document.getElementById("copy-share");
  if (copyButton) {
    copyButton.addEventListener("click", function () {
      var input = document.getElementById("share-url");
      input.select();
      var done = function () { document.getElementById("copy-status").textContent = P.text("copied"); };
      if (navigator.clipboard) navigator.clipboard.writeText(input.value).then(done, function () {});
      else done();
    });
  }

  var status = root.getAttribute("data-status");
  var more = root.getAttribute("data-more-status");
  if (status === "completed" || status === "failed") {
    finished = true;
    runHooks();
    if (moreButton && (more === "pending" || more === "processing")) {
      moreButton.disabled = true;
      waitForMore();
    }
  } else {
    showStage(root.getAttribute("data-stage"));
    follow();
  }
})();
