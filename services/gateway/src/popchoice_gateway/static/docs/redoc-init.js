// Starts ReDoc on the OpenAPI document named by the page (a file, so the CSP needs no inline script).
(function () {
  "use strict";
  var root = document.getElementById("redoc");
  Redoc.init(root.getAttribute("data-openapi-url"), {}, root);
})();
