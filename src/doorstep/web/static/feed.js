// Neighbors maps: the home and place pickers (on static/picker.js), the feed map of coarse areas, one post's area.
// Without tiles (tile server unreachable) the maps show the shapes on a blank background;
// without Leaflet at all, the number inputs and the list of posts remain.
(function () {
  "use strict";
  var L = window.L;
  var MILE_M = 1609.344;

  function hideAll(ids) {
    ids.forEach(function (id) {
      var box = document.getElementById(id);
      if (box) box.hidden = true;
    });
  }
  if (typeof L === "undefined") {
    hideAll(["home-map", "place-map", "feed-map", "post-area-map"]);
    return;
  }

  function baseMap(box, options) {
    var map = L.map(box, Object.assign({ worldCopyJump: true }, options || {}));
    L.tileLayer(box.dataset.tileUrl, { maxZoom: 19, attribution: box.dataset.attribution || "" }).addTo(map);
    return map;
  }

  // ---------------------------------------------------------------- pickers
  function picker(boxId, title, withRadius) {
    var box = document.getElementById(boxId);
    if (!box) return;
    var radiusInput = box.dataset.radiusInput ? document.getElementById(box.dataset.radiusInput) : null;
    var circle = null;

    function radiusM() {
      var miles = radiusInput ? parseFloat(radiusInput.value) : NaN;
      return isFinite(miles) && miles > 0 ? miles * MILE_M : MILE_M;
    }
    var picked = window.doorstepPicker(box, {
      title: title,
      world: [39.5, -98.35],
      worldZoom: 3,
      zoom: 14,
      wrapMarker: true,
      onPlace: function (latlng, map) {
        if (!withRadius) return;
        if (circle) {
          circle.setLatLng(latlng);
          circle.setRadius(radiusM());
        } else {
          circle = L.circle(latlng, { radius: radiusM(), weight: 1, fillOpacity: 0.05 }).addTo(map);
        }
      }
    });
    if (radiusInput) radiusInput.addEventListener("input", picked.refresh);
  }

  picker("home-map", "Home", true);
  picker("place-map", "Where it happened", false);

  // ---------------------------------------------------------------- the feed map
  var feedBox = document.getElementById("feed-map");
  var dataNode = document.getElementById("feed-geojson");
  if (feedBox && dataNode) {
    var data = JSON.parse(dataNode.textContent || "{}");
    var home = L.latLng(parseFloat(feedBox.dataset.homeLat), parseFloat(feedBox.dataset.homeLng));
    var radius = parseFloat(feedBox.dataset.radiusM) || MILE_M;
    var map = baseMap(feedBox);
    // A map needs its view before vector layers are added to it.
    map.fitBounds(home.toBounds(2 * radius));
    L.circle(home, {
      radius: radius, weight: 1, dashArray: "4 4", fill: false, interactive: false
    }).addTo(map);

    // Posts in the same coarse area (the page numbers the areas) share one shape, with
    // all of them in its popup.
    var byArea = {};
    (data.features || []).forEach(function (feature) {
      var area = feature.properties.area;
      if (!byArea[area]) byArea[area] = { geometry: feature.geometry, posts: [], official: false };
      byArea[area].posts.push(feature);
      if (feature.properties.official) byArea[area].official = true;
    });
    Object.keys(byArea).forEach(function (area) {
      var group = byArea[area];
      var layer = L.geoJSON(group.geometry, {
        style: {
          color: group.official ? "#1d4ed8" : "#b45309",
          weight: 2, fillOpacity: Math.min(0.15 + 0.1 * group.posts.length, 0.6),
          className: "post-area area-posts-" + group.posts.length
        }
      });
      var list = document.createElement("ul");
      list.className = "map-popup";
      group.posts.forEach(function (feature) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = feature.properties.url;
        link.textContent = feature.properties.title;
        item.appendChild(link);
        var meta = document.createElement("span");
        meta.className = "muted";
        meta.textContent = " · " + feature.properties.category.replace(/_/g, " ") +
          (feature.properties.official ? " · official" : "");
        item.appendChild(meta);
        list.appendChild(item);
      });
      layer.bindPopup(list);
      layer.addTo(map);
    });
    feedBox.dataset.areas = String(Object.keys(byArea).length);
  }

  // ---------------------------------------------------------------- one post's area
  var areaBox = document.getElementById("post-area-map");
  if (areaBox && areaBox.dataset.cellBoundary) {
    var ring = JSON.parse(areaBox.dataset.cellBoundary);
    var areaMap = baseMap(areaBox, { scrollWheelZoom: false });
    areaMap.fitBounds(L.latLngBounds(ring), { padding: [20, 20] });
    L.polygon(ring, { weight: 2, fillOpacity: 0.2, className: "post-area" }).addTo(areaMap);
  }
})();
