// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Forms with data-confirm ask once before they submit (the server needs no confirmation).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form instanceof HTMLFormElement && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
