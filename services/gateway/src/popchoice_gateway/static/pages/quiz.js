/* The quiz: add and remove people, title suggestions, submit to the JSON API, field errors from its 422. */
(function () {
  "use strict";
  var P = window.PopChoice;
  var form = document.getElementById("quiz");
  var people = document.getElementById("people");
  var template = document.getElementById("person-template");
  var addButton = document.getElementById("add-person");
  var submitButton = document.getElementById("submit");
  var status = document.getElementById("quiz-status");
  var formError = document.getElementById("form-error");
  var maxPeople = Number(form.getAttribute("data-max-people")) || 10;
  var RENUMBERED = ["id", "for", "list", "name", "aria-describedby"];

  function persons() { return Array.prototype.slice.call(people.querySelectorAll("fieldset.person")); }

  function renumber() {
    var all = persons();
    all.forEach(function (person, index) {
      person.setAttribute("data-person", String(index));
      person.querySelectorAll("*").forEach(function (element) {
        RENUMBERED.forEach(function (name) {
          var value = element.getAttribute(name);
          if (value) element.setAttribute(name, value.replace(/\bp(\d+|__N__)-/g, "p" + index + "-"));
        });
      });
      person.querySelector(".person-number").textContent = P.text("person", { n: index + 1 });
      var remove = person.querySelector(".remove-person");
      remove.setAttribute("aria-label", P.text("remove_person_label", { n: index + 1 }));
      remove.hidden = all.length === 1;
    });
    addButton.hidden = all.length >= maxPeople;
  }

  function addPerson() {
    if (persons().length >= maxPeople) return;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML;
    var person = holder.querySelector("fieldset.person");
    people.appendChild(person);
    renumber();
    person.querySelector("input[name=favoriteMovie]").focus();
  }

  people.addEventListener("click", function (event) {
    var button = event.target.closest(".remove-person");
    if (!button) return;
    var person = button.closest("fieldset.person");
    var index = persons().indexOf(person);
    person.remove();
    renumber();
    var remaining = persons();
    remaining[Math.max(0, index - 1)].querySelector("input[name=favoriteMovie]").focus();
  });
  addButton.addEventListener("click", addPerson);

  /* Title suggestions: a native <datalist> per person, filled from GET /api/titles (debounced). */
  var timer = null;
  var lastQuery = {};
  people.addEventListener("input", function (event) {
    var input = event.target;
    if (input.name !== "favoriteMovie") return;
    clearTimeout(timer);
    var query = input.value.trim();
    if (query.length < 2 || lastQuery[input.id] === query) return;
    timer = setTimeout(function () {
      lastQuery[input.id] = query;
      fetch("/api/titles?q=" + encodeURIComponent(query), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(function (titles) {
          var list = document.getElementById(input.getAttribute("list"));
          if (!list) return;
          list.textContent = "";
          titles.forEach(function (title) {
            var option = document.createElement("option");
            option.value = title.year ? title.name + " (" + title.year + ")" : title.name;
            list.appendChild(option);
          });
        })
        .catch(function () { /* suggestions are a convenience: typing still works */ });
    }, 180);
  });

  function answers(person) {
    var value = function (selector) {
      var found = person.querySelector(selector);
      return found ? found.value.trim() : "";
    };
    var checked = function (answer) {
      return Array.prototype.map.call(
        person.querySelectorAll("input[data-answer=" + answer + "]:checked"),
        function (input) { return input.value; });
    };
    var one = {
      favoriteMovie: value("input[name=favoriteMovie]"),
      newVsClassic: checked("newVsClassic")[0] || "",
      moodPreference: checked("moodPreference"),
      tonePreference: checked("tonePreference")[0] || ""
    };
    var why = value("textarea[name=favoriteMovieWhy]");
    if (why) one.favoriteMovieWhy = why;
    return one;
  }

  function clearErrors() {
    P.show(formError, "");
    form.querySelectorAll(".field-error").forEach(function (element) { P.show(element, ""); });
    form.querySelectorAll("[aria-invalid]").forEach(function (element) { element.removeAttribute("aria-invalid"); });
    form.querySelectorAll(".field.invalid").forEach(function (element) { element.classList.remove("invalid"); });
  }

  /* Where a 422 error belongs: loc is ["body", <union branch>?, person?, field, ...]. */
  function placeOf(loc) {
    var at = -1;
    for (var i = 1; i < loc.length; i += 1) {
      if (typeof loc[i] === "number") { at = i; break; }
    }
    if (at >= 0) return { person: loc[at], field: loc[at + 1], whole: loc.length === at + 2 };
    var named = loc.filter(function (part) { return typeof part === "string" && /^[a-z]\w*$/.test(part); });
    var field = named[named.length - 1];
    return { person: 0, field: field === "body" ? undefined : field, whole: loc[loc.length - 1] === field };
  }

  function messageFor(error, place) {
    var type = String(error.type || "");
    if (type === "refused") return P.text("refused");
    if (type === "missing" || type === "string_too_short" || type === "too_short") return P.text("required");
    if (type === "string_too_long" || type === "too_long") {
      return P.text(place.field === "moodPreference" && place.whole ? "too_many" : "too_long");
    }
    return error.msg || P.text("invalid");
  }

  /* A 422's errors next to their fields. A union branch that did not apply (the one-person object shape
     when a list was sent) has no field and is not the person's mistake: it is left out. */
  function showFieldErrors(errors) {
    var first = null;
    var unplaced = [];
    errors.forEach(function (error) {
      var place = placeOf(error.loc || []);
      if (!place.field) {
        var branch = typeof error.loc[1] === "string" && /^[A-Z]|\[/.test(error.loc[1]);
        if (!branch) unplaced.push(error.msg || P.text("invalid"));
        return;
      }
      var person = persons()[place.person];
      var holder = person && person.querySelector("[data-field=" + place.field + "]");
      if (!holder) { unplaced.push(error.msg || P.text("invalid")); return; }
      var message = holder.querySelector(".field-error");
      if (!message.hidden) return;
      P.show(message, messageFor(error, place));
      holder.classList.add("invalid");
      var control = holder.querySelector("input, textarea");
      if (holder.tagName !== "FIELDSET") control.setAttribute("aria-invalid", "true");
      if (!first) first = control;
    });
    P.show(formError, [P.text("error_summary")].concat(unplaced).join(" "));
    if (first) first.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    submitButton.disabled = true;
    status.textContent = P.text("submitting");
    P.post("/api/recommendations", persons().map(answers))
      .then(function (answer) {
        if (answer.status === 201) {
          window.location.assign("/r/" + answer.body.id);
          return;
        }
        submitButton.disabled = false;
        status.textContent = "";
        if (answer.status === 422 && Array.isArray(answer.body.detail)) showFieldErrors(answer.body.detail);
        else if (answer.status === 429) P.show(formError, P.text("rate_limited"));
        else if (answer.status === 503) P.show(formError, P.text("unavailable"));
        else P.show(formError, typeof answer.body.detail === "string" ? answer.body.detail : P.text("network"));
      })
      .catch(function () {
        submitButton.disabled = false;
        status.textContent = "";
        P.show(formError, P.text("network"));
      });
  });

  renumber();
  P.csrf().catch(function () { /* fetched again on submit */ });
})();
