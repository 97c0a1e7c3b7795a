// Public portal maps: GeoJSON embedded in the page (jurisdictions, coarse request areas),
// drawn with Leaflet. Without Leaflet the maps hide themselves and the tables remain;
// without tiles the shapes still show. Text from the data is set with textContent only.
(function () {
  "use strict";

  function popupFor(props) {
    var box = document.createElement("div");
    var title = document.createElement(props.url ? "a" : "strong");
    if (props.url) title.href = props.url;
    title.textContent = props.name || props.agency_name || "";
    box.appendChild(title);
    var detail = document.createElement("div");
    if (props.city) {
      detail.textContent = props.city + ", " + props.state + " · " + (props.status === "verified" ? "active" : props.status);
    } else if (props.incident_type) {
      detail.textContent = props.incident_type.replace(/_/g, " ") + (props.case_number ? " · case " + props.case_number : "") +
        " · asked " + props.asked + ", shared " + props.shared + ", declined " + props.declined;
    }
    box.appendChild(detail);
    return box;
  }

  var boxes = document.querySelectorAll(".portal-map[data-source]");
  Array.prototype.forEach.call(boxes, function (box) {
    var source = document.getElementById(box.dataset.source);
    if (typeof window.L === "undefined" || !source) {
      box.hidden = true;
      return;
    }
    var L = window.L;
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (err) {
      box.hidden = true;
      return;
    }
    var map = L.map(box, { scrollWheelZoom: false, worldCopyJump: true }).setView([39.5, -98.35], 3);
    L.tileLayer(box.dataset.tileUrl, { maxZoom: 18, attribution: box.dataset.attribution || "" }).addTo(map);
    var style = { color: "#1f6feb", weight: 2, fillOpacity: 0.12 };
    var layer = L.geoJSON(data, {
      style: function () { return style; },
      onEachFeature: function (feature, shape) {
        if (feature.properties && Object.keys(feature.properties).length) shape.bindPopup(popupFor(feature.properties));
      }
    }).addTo(map);
    var shown = 0;
    if (box.dataset.kind === "agencies" && data.features) {
      data.features.forEach(function (feature) {
        var p = feature.properties || {};
        if (!p.point) return;
        L.circleMarker([p.point[1], p.point[0]], { radius: 6, color: "#17202c", weight: 1, fillColor: "#1f6feb", fillOpacity: 0.9 })
          .bindPopup(popupFor(p))
          .addTo(map);
        shown += 1;
      });
    }
    var bounds = layer.getBounds();
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [16, 16], maxZoom: 14 });
    }
    box.dataset.features = String(data.features ? data.features.length : (data.type ? 1 : 0));
    box.dataset.markers = String(shown);
    box.dataset.ready = "true";
  });
})();
