// Service worker: keeps the offline page for when the network is gone, shows doorstep's
// push alerts, and opens an alert's page when it is clicked.
var OFFLINE_CACHE = "doorstep-offline-v1";
var OFFLINE_URL = "/offline";
var OFFLINE_ASSETS = [OFFLINE_URL, "/static/doorstep.css", "/static/icons/icon-192.png"];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(OFFLINE_CACHE)
      .then(function (cache) { return cache.addAll(OFFLINE_ASSETS); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name.indexOf("doorstep-offline-") === 0 && name !== OFFLINE_CACHE;
        }).map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

// Pages always come from the network (they are personal and change); only when it cannot
// be reached does a navigation get the offline page. The offline page's stylesheet comes
// from the cache then. Nothing else is touched.
self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(OFFLINE_URL);
    }));
    return;
  }
  var url = new URL(request.url);
  if (url.origin === self.location.origin && OFFLINE_ASSETS.indexOf(url.pathname) >= 0) {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(url.pathname).then(function (cached) {
        return cached || Response.error();
      });
    }));
  }
});

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { title: "doorstep", body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "doorstep", {
      body: data.body || "",
      icon: "/static/icons/icon-192.png",
      data: { url: data.url || "/" }
    })
  );
});

// The alert's page: an open tab already showing it is brought forward, else one opens.
// Only ever a page of this site.
function alertTarget(notification) {
  var url = (notification.data && notification.data.url) || "/";
  var target = new URL(url, self.location.origin);
  if (target.origin !== self.location.origin) target = new URL("/", self.location.origin);
  return target.href;
}

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var href = alertTarget(event.notification);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (tabs) {
      for (var i = 0; i < tabs.length; i++) {
        if (tabs[i].url === href && "focus" in tabs[i]) return tabs[i].focus();
      }
      return self.clients.openWindow(href);
    })
  );
});
