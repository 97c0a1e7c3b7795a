// Drawing an area on a Leaflet map: a polygon (click to add corners, Close shape, Undo point,
// Clear) or a circle (click the centre; drag the centre or the edge handle, or type the radius).
// The drawing is written into the form's own fields (a GeoJSON textarea, the circle's number
// inputs), so the form works without the map too: paste GeoJSON or type the numbers.
// Without tiles (tile server unreachable) the map is blank but drawing still works.
(function () {
  "use strict";
  var box = document.getElementById("draw-map");
  if (!box) return;
  if (typeof window.L === "undefined") {
    box.hidden = true;
    return;
  }
  var L = window.L;
  var form = box.closest("form");
  var tools = document.getElementById("draw-tools");
  var readout = document.getElementById("area-readout");
  var areaInput = document.getElementById(box.dataset.areaInput);
  var shapes = (box.dataset.shapes || "polygon").split(",");
  var latInput = document.getElementById("circle_latitude");
  var lngInput = document.getElementById("circle_longitude");
  var radiusInput = document.getElementById("radius_m");
  var minArea = parseFloat(box.dataset.minArea);
  var maxArea = parseFloat(box.dataset.maxArea);
  var SQ_M_PER_SQ_MI = 2589988.110336;
  var EARTH_RADIUS_M = 6371008.8;
  var STYLE = { color: "#1f6feb", weight: 2, fillOpacity: 0.15, interactive: false };

  if (tools) tools.hidden = false;

  var map = L.map(box, { worldCopyJump: true, doubleClickZoom: false }).setView([20, 0], 2);
  L.tileLayer(box.dataset.tileUrl, {
    maxZoom: 19,
    attribution: box.dataset.attribution || ""
  }).addTo(map);
  // The view is published on the box (zoom, and bounds as "west,south,east,north") for
  // the page's tests and for anything that frames the map.
  function publishView() {
    box.dataset.zoom = String(map.getZoom());
    box.dataset.bounds = map.getBounds().toBBoxString();
  }
  map.on("moveend zoomend", publishView);

  function outlines(geojson) {
    var polygons = geojson.type === "MultiPolygon" ? geojson.coordinates : [geojson.coordinates];
    return polygons.map(function (rings) {
      return rings.map(function (ring) {
        return ring.map(function (p) { return [p[1], p[0]]; });
      });
    });
  }

  var jurisdiction = null;
  if (box.dataset.jurisdiction) {
    try {
      jurisdiction = L.polygon(outlines(JSON.parse(box.dataset.jurisdiction)), {
        color: "#5b6675", weight: 2, dashArray: "6 6", fill: false, interactive: false
      }).addTo(map);
    } catch (err) {
      jurisdiction = null;
    }
  }

  function mode() {
    var checked = form && form.querySelector('input[name="shape"]:checked');
    return checked ? checked.value : shapes[0];
  }

  // ------------------------------------------------------------------ polygon
  var polygonLayers = L.featureGroup().addTo(map);
  var vertices = [];
  var closed = false;
  var pasted = null; // a pasted MultiPolygon: shown, not editable point by point
  var line = L.polyline([], { color: STYLE.color, weight: 2, dashArray: "4 4", interactive: false });
  polygonLayers.addLayer(line);
  var handles = L.layerGroup();
  polygonLayers.addLayer(handles);
  var filled = null;

  function round6(x) { return Math.round(x * 1e6) / 1e6; }

  function writePolygon() {
    if (!areaInput || pasted) return;
    if (closed && vertices.length >= 3) {
      var ring = vertices.map(function (ll) {
        var w = ll.wrap();
        return [round6(w.lng), round6(w.lat)];
      });
      ring.push(ring[0].slice());
      areaInput.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    } else {
      areaInput.value = "";
    }
  }

  function drawPolygon() {
    handles.clearLayers();
    if (filled) {
      polygonLayers.removeLayer(filled);
      filled = null;
    }
    if (pasted) {
      filled = L.polygon(outlines(pasted), STYLE);
      polygonLayers.addLayer(filled);
    } else if (closed) {
      filled = L.polygon(vertices, STYLE);
      polygonLayers.addLayer(filled);
    }
    line.setLatLngs(closed || pasted ? [] : vertices);
    vertices.forEach(function (ll, i) {
      var first = i === 0 && !closed && vertices.length >= 3;
      var handle = L.circleMarker(ll, {
        radius: first ? 8 : 5, color: STYLE.color, weight: 2, fillColor: "#fff", fillOpacity: 1,
        bubblingMouseEvents: false, className: "vertex-handle"
      });
      handle.on("click", function () { if (first) closePolygon(); });
      handles.addLayer(handle);
    });
    box.dataset.vertices = String(vertices.length);
    box.dataset.closed = closed ? "true" : "false";
    updateReadout();
  }

  function closePolygon() {
    if (vertices.length < 3) {
      say("Add at least three corners first.", true);
      return;
    }
    closed = true;
    writePolygon();
    drawPolygon();
  }

  function loadPasted() {
    if (!areaInput) return false;
    var value = areaInput.value.trim();
    pasted = null;
    if (!value) return false;
    var geojson;
    try {
      geojson = JSON.parse(value);
    } catch (err) {
      say("The pasted text is not valid GeoJSON.", true);
      return false;
    }
    if (geojson && geojson.type === "Feature") geojson = geojson.geometry;
    if (!geojson || !geojson.coordinates) return false;
    if (geojson.type === "Polygon") {
      var ring = geojson.coordinates[0].map(function (p) { return L.latLng(p[1], p[0]); });
      if (ring.length > 1 && ring[0].equals(ring[ring.length - 1])) ring.pop();
      vertices = ring;
      closed = ring.length >= 3;
    } else if (geojson.type === "MultiPolygon") {
      vertices = [];
      closed = false;
      pasted = geojson;
    } else {
      return false;
    }
    drawPolygon();
    return true;
  }

  // ------------------------------------------------------------------ circle
  var circleLayers = L.featureGroup();
  var circle = null;
  var centre = null;
  var edge = null;

  function circleCentre() {
    if (!latInput || !lngInput) return null;
    var lat = parseFloat(latInput.value);
    var lng = parseFloat(lngInput.value);
    if (isFinite(lat) && isFinite(lng) && Math.abs(lat) <= 90 && Math.abs(lng) <= 180) {
      return L.latLng(lat, lng);
    }
    return null;
  }

  function radius() {
    var r = radiusInput ? parseFloat(radiusInput.value) : NaN;
    return isFinite(r) && r > 0 ? r : 200;
  }

  function edgePoint(c, r) {
    var dLng = (r / (EARTH_RADIUS_M * Math.cos(c.lat * Math.PI / 180))) * 180 / Math.PI;
    return L.latLng(c.lat, c.lng + dLng);
  }

  function writeCentre(ll) {
    var w = ll.wrap();
    latInput.value = w.lat.toFixed(6);
    lngInput.value = w.lng.toFixed(6);
  }

  function drawCircle() {
    var c = circleCentre();
    if (!c) {
      circleLayers.clearLayers();
      circle = centre = edge = null;
      updateReadout();
      return;
    }
    var r = radius();
    if (!circle) {
      circle = L.circle(c, L.extend({ radius: r }, STYLE));
      centre = L.marker(c, { draggable: true, keyboard: true, title: "Circle centre" });
      edge = L.marker(edgePoint(c, r), {
        draggable: true, keyboard: true, title: "Drag to change the radius",
        icon: L.divIcon({ className: "edge-handle", iconSize: [14, 14] })
      });
      centre.on("drag", function () {
        var at = centre.getLatLng();
        circle.setLatLng(at);
        edge.setLatLng(edgePoint(at, radius()));
      });
      centre.on("dragend", function () {
        writeCentre(centre.getLatLng());
        updateReadout();
      });
      edge.on("drag", function () {
        var r2 = centre.getLatLng().distanceTo(edge.getLatLng());
        circle.setRadius(r2);
        if (radiusInput) radiusInput.value = String(Math.round(r2));
        updateReadout();
      });
      edge.on("dragend", function () { edge.setLatLng(edgePoint(centre.getLatLng(), radius())); });
      circleLayers.addLayer(circle).addLayer(centre).addLayer(edge);
    } else {
      circle.setLatLng(c);
      circle.setRadius(r);
      centre.setLatLng(c);
      edge.setLatLng(edgePoint(c, r));
    }
    updateReadout();
  }

  // ------------------------------------------------------------------ area readout
  function polygonAreaM2(latlngs) {
    // The spherical excess approximation Leaflet.draw uses; plenty for a readout.
    var area = 0;
    var rad = Math.PI / 180;
    for (var i = 0; i < latlngs.length; i++) {
      var p1 = latlngs[i];
      var p2 = latlngs[(i + 1) % latlngs.length];
      area += (p2.lng - p1.lng) * rad * (2 + Math.sin(p1.lat * rad) + Math.sin(p2.lat * rad));
    }
    return Math.abs(area * EARTH_RADIUS_M * EARTH_RADIUS_M / 2);
  }

  function say(text, bad) {
    if (!readout) return;
    readout.textContent = text;
    readout.classList.toggle("out-of-bounds", !!bad);
  }

  function updateReadout() {
    var sqMi = null;
    var hint = "";
    if (mode() === "circle") {
      if (circle) sqMi = Math.PI * Math.pow(circle.getRadius(), 2) / SQ_M_PER_SQ_MI;
      else hint = "Click the map to place the circle's centre.";
    } else if (pasted) {
      hint = "Pasted area shown.";
    } else if (vertices.length >= 3) {
      sqMi = polygonAreaM2(vertices) / SQ_M_PER_SQ_MI;
      if (!closed) hint = " — Close shape to use it";
    } else {
      hint = vertices.length
        ? vertices.length + " of at least 3 corners"
        : "Click the map to add the first corner.";
    }
    if (sqMi === null) {
      delete box.dataset.areaSqMi;
      say(hint + limits(), false);
      return;
    }
    box.dataset.areaSqMi = sqMi.toFixed(4);
    var bad = (isFinite(minArea) && sqMi < minArea) || (isFinite(maxArea) && sqMi > maxArea);
    var verdict = bad ? (sqMi < minArea ? " — too small" : " — too large") : "";
    say("Area: " + sqMi.toFixed(3) + " sq mi" + verdict + hint + limits(), bad);
  }

  // The policy's limits are always part of the readout, so its text (and the room it
  // takes) changes as little as possible while drawing.
  function limits() {
    return isFinite(minArea) && isFinite(maxArea)
      ? " · policy: " + minArea + " to " + maxArea + " sq mi" : "";
  }

  // ------------------------------------------------------------------ modes and events
  function showMode() {
    var current = mode();
    if (form) {
      var parts = form.querySelectorAll("[data-shape]");
      Array.prototype.forEach.call(parts, function (el) {
        el.hidden = el.dataset.shape !== current;
      });
    }
    var polygonTools = tools && tools.querySelector(".polygon-tools");
    if (polygonTools) polygonTools.hidden = current !== "polygon";
    if (current === "circle") {
      map.removeLayer(polygonLayers);
      map.addLayer(circleLayers);
    } else {
      map.removeLayer(circleLayers);
      map.addLayer(polygonLayers);
    }
    updateReadout();
  }

  map.on("click", function (event) {
    if (mode() === "circle") {
      if (!latInput || !lngInput) return;
      writeCentre(event.latlng);
      drawCircle();
      return;
    }
    if (closed || pasted) {
      say("The shape is closed. Undo point or Clear to change it.", false);
      return;
    }
    vertices.push(event.latlng);
    drawPolygon();
  });

  function on(id, handler) {
    var el = document.getElementById(id);
    if (el) el.addEventListener("click", handler);
  }
  on("draw-undo", function () {
    if (pasted) {
      pasted = null;
    } else if (closed) {
      closed = false;
    } else {
      vertices.pop();
    }
    writePolygon();
    drawPolygon();
  });
  on("draw-close", closePolygon);
  on("draw-clear", function () {
    vertices = [];
    closed = false;
    pasted = null;
    writePolygon();
    drawPolygon();
  });

  if (areaInput) {
    areaInput.addEventListener("change", function () {
      if (loadPasted() && filled) map.fitBounds(filled.getBounds(), { padding: [20, 20] });
    });
  }
  [latInput, lngInput, radiusInput].forEach(function (input) {
    if (input) input.addEventListener("change", drawCircle);
  });
  if (form) {
    Array.prototype.forEach.call(form.querySelectorAll('input[name="shape"]'), function (r) {
      r.addEventListener("change", showMode);
    });
    form.addEventListener("submit", function () {
      // An open shape with enough corners is what the officer meant: close it.
      if (mode() === "polygon" && !closed && !pasted && vertices.length >= 3) {
        closed = true;
        writePolygon();
      }
    });
  }

  // ------------------------------------------------------------------ start
  loadPasted();
  drawCircle();
  showMode();
  if (mode() === "circle" && circle) {
    map.fitBounds(circle.getLatLng().toBounds(radius() * 2.5));
  } else if (filled) {
    map.fitBounds(filled.getBounds(), { padding: [20, 20] });
  } else if (jurisdiction && isFinite(maxArea) && maxArea > 0) {
    // Open where a request is drawn: the largest area the policy allows (a circle of
    // maxArea) fills the map, centred on the jurisdiction, instead of the whole
    // jurisdiction at a zoom where an allowed area is a few pixels wide.
    var largestRadius = Math.sqrt(maxArea * SQ_M_PER_SQ_MI / Math.PI);
    map.fitBounds(jurisdiction.getBounds().getCenter().toBounds(largestRadius * 2), {
      padding: [10, 10]
    });
  } else if (jurisdiction) {
    map.fitBounds(jurisdiction.getBounds(), { padding: [10, 10] });
  }
  publishView();
  box.dataset.ready = "true";
})();
