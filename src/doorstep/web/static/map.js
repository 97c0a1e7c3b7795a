// The camera position picker: a Leaflet map kept in step with the latitude/longitude inputs.
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
  var latInput = document.getElementById(box.dataset.latInput);
  var lngInput = document.getElementById(box.dataset.lngInput);

  function readPosition() {
    var lat = parseFloat(latInput.value);
    var lng = parseFloat(lngInput.value);
    if (isFinite(lat) && isFinite(lng) && Math.abs(lat) <= 90 && Math.abs(lng) <= 180) {
      return L.latLng(lat, lng);
    }
    return null;
  }

  var start = readPosition();
  var map = L.map(box, { worldCopyJump: true }).setView(start || [20, 0], start ? 17 : 2);
  L.tileLayer(box.dataset.tileUrl, {
    maxZoom: 19,
    attribution: box.dataset.attribution || ""
  }).addTo(map);

  var marker = null;

  function writeInputs(latlng) {
    var wrapped = latlng.wrap();
    latInput.value = wrapped.lat.toFixed(6);
    lngInput.value = wrapped.lng.toFixed(6);
    box.dataset.placed = "true";
  }

  function place(latlng) {
    if (marker) {
      marker.setLatLng(latlng);
    } else {
      marker = L.marker(latlng, { draggable: true, keyboard: true, title: "Camera position" });
      marker.on("dragend", function () { writeInputs(marker.getLatLng()); });
      marker.addTo(map);
    }
  }

  if (start) place(start);

  map.on("click", function (event) {
    place(event.latlng);
    writeInputs(event.latlng);
  });

  function fromInputs() {
    var position = readPosition();
    if (position) {
      place(position);
      map.panTo(position);
    }
  }
  latInput.addEventListener("change", fromInputs);
  lngInput.addEventListener("change", fromInputs);

  var locate = document.getElementById("locate-me");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        var here = L.latLng(pos.coords.latitude, pos.coords.longitude);
        place(here);
        writeInputs(here);
        map.setView(here, 18);
      });
    });
  }
})();
