// "Enable push on this browser": register the service worker, subscribe with the
// instance's VAPID key, and hand the subscription to the server.
(function () {
  "use strict";
  var button = document.getElementById("enable-push");
  var status = document.getElementById("push-status");
  if (!button) return;
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    button.disabled = true;
    status.textContent = "This browser does not support push notifications.";
    return;
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    status.textContent = "Asking this browser…";
    navigator.serviceWorker.register("/sw.js", { scope: "/" })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) {
        return registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(button.dataset.vapidKey)
        });
      })
      .then(function (subscription) {
        return fetch("/account/push-subscriptions", {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-CSRF-Token": button.dataset.csrf
          },
          body: JSON.stringify(subscription)
        });
      })
      .then(function (response) {
        if (!response.ok) throw new Error("the server refused the subscription");
        var pref = document.getElementById("push-pref");
        if (pref && !pref.checked) {
          pref.checked = true;
          status.textContent = "This browser is subscribed. Press Save to turn push alerts on.";
        } else {
          status.textContent = "This browser is subscribed.";
        }
      })
      .catch(function (error) {
        status.textContent = "Push could not be enabled: " + error.message;
      })
      .finally(function () { button.disabled = false; });
  });
})();
