// The camera position picker (static/picker.js) and its "Use my location" button.
// Without tiles (tile server unreachable) the map is blank but clicks and the marker still work;
// without Leaflet at all, the number inputs remain.
(function () {
  "use strict";
  var box = document.getElementById("camera-map");
  if (!box || typeof window.L === "undefined") {
    if (box) box.hidden = true;
    return;
  }
  var L = window.L;
  var picked = window.doorstepPicker(box, {
    title: "Camera position",
    world: [20, 0],
    worldZoom: 2,
    zoom: 17,
    wrapMarker: false
  });

  var locate = document.getElementById("locate-me");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        var here = L.latLng(pos.coords.latitude, pos.coords.longitude);
        picked.write(here);
        picked.map.setView(here, 18);
      });
    });
  }
})();
