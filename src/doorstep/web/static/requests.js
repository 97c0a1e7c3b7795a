// Footage request pages: read-only maps of an area (never a camera), and the message counter.
// Without Leaflet the maps hide themselves; without tiles they still show the area's outline.
(function () {
  "use strict";

  function outlines(geojson) {
    // GeoJSON Polygon / MultiPolygon -> Leaflet [[[lat, lng], ...], ...] rings.
    if (!geojson || !geojson.coordinates) return [];
    var polygons = geojson.type === "MultiPolygon" ? geojson.coordinates : [geojson.coordinates];
    return polygons.map(function (rings) {
      return rings.map(function (ring) {
        return ring.map(function (p) { return [p[1], p[0]]; });
      });
    });
  }

  var maps = document.querySelectorAll(".area-map[data-area]");
  Array.prototype.forEach.call(maps, function (box) {
    if (typeof window.L === "undefined") {
      box.hidden = true;
      return;
    }
    var L = window.L;
    var area;
    try {
      area = JSON.parse(box.dataset.area);
    } catch (err) {
      box.hidden = true;
      return;
    }
    var map = L.map(box, { scrollWheelZoom: false, worldCopyJump: true });
    L.tileLayer(box.dataset.tileUrl, {
      maxZoom: 19,
      attribution: box.dataset.attribution || ""
    }).addTo(map);
    var shape = L.polygon(outlines(area), { color: "#1f6feb", weight: 2, fillOpacity: 0.15 });
    shape.addTo(map);
    map.fitBounds(shape.getBounds(), { padding: [16, 16] });
    box.dataset.ready = "true";
  });

  var counted = document.querySelectorAll("textarea[data-counter]");
  Array.prototype.forEach.call(counted, function (field) {
    var out = document.getElementById(field.dataset.counter);
    if (!out) return;
    function update() { out.textContent = String(field.value.length); }
    field.addEventListener("input", update);
    update();
  });
})();
