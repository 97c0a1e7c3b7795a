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

  // On a narrow screen the main navigation folds behind its menu button (the stylesheet
  // folds it only once the header has the "has-menu" class, so without this script the
  // navigation simply wraps). Escape closes it and gives the focus back to the button.
  var header = document.querySelector("header.top");
  var toggle = header && header.querySelector(".menu-toggle");
  var nav = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (nav) {
    var setOpen = function (open) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
    };
    header.classList.add("has-menu");
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    nav.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  // The service worker keeps the offline page (and shows push alerts); registering it
  // again on each page is cheap, the browser only checks it for updates.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }
})();

// The browser's time zone, for people who chose none: the server shows times in it from
// the next page on (timezones.BROWSER_COOKIE).
(function () {
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (error) {
    return;
  }
  if (!zone || zone.length > 64) return;
  var current = document.cookie.split("; ").filter(function (c) {
    return c.indexOf("doorstep_tz=") === 0;
  })[0];
  // IANA names are letters, digits and "/_+-": safe in a cookie as they are.
  if (!/^[A-Za-z0-9/_+-]+$/.test(zone)) return;
  var value = zone;
  if (current !== "doorstep_tz=" + value) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = "doorstep_tz=" + value + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
  }
})();
