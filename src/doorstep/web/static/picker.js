// A position picker: a Leaflet map kept in step with the latitude and longitude inputs that
// the box names (data-lat-input, data-lng-input). Clicking the map or dragging the marker
// writes the inputs; typing in them moves the marker. Used by map.js (the camera position)
// and feed.js (the home and the place of a post); the caller checks that Leaflet loaded.
(function () {
  "use strict";

  // options: title (the marker's), world and worldZoom (the view without a position),
  // zoom (the view of a position), wrapMarker (move the marker to the position as written,
  // within -180..180), onPlace(latlng, map) (called whenever the marker is placed, also
  // while the picker is made).
  // Returns the map and refresh(), which places the marker from the inputs again.
  window.doorstepPicker = function (box, options) {
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
    var map = L.map(box, { worldCopyJump: true }).setView(
      start || options.world, start ? options.zoom : options.worldZoom
    );
    L.tileLayer(box.dataset.tileUrl, {
      maxZoom: 19,
      attribution: box.dataset.attribution || ""
    }).addTo(map);
    var marker = null;

    function place(latlng) {
      if (marker) {
        marker.setLatLng(latlng);
      } else {
        marker = L.marker(latlng, { draggable: true, keyboard: true, title: options.title });
        marker.on("dragend", function () { write(marker.getLatLng()); });
        marker.addTo(map);
      }
      if (options.onPlace) options.onPlace(latlng, map);
    }
    function write(latlng) {
      var wrapped = latlng.wrap();
      latInput.value = wrapped.lat.toFixed(6);
      lngInput.value = wrapped.lng.toFixed(6);
      place(options.wrapMarker ? wrapped : latlng);
      box.dataset.placed = "true";
    }
    function refresh() {
      var position = readPosition();
      if (position) {
        place(position);
        map.panTo(position);
      }
    }

    if (start) place(start);
    map.on("click", function (event) { write(event.latlng); });
    latInput.addEventListener("change", refresh);
    lngInput.addEventListener("change", refresh);
    return { map: map, write: write, refresh: refresh };
  };
})();
