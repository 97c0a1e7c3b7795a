// Privacy zones on the camera settings page: the owner clicks points on the still frame,
// closes a polygon, removes one, and saves. The polygons live in the form's textarea (one a
// line, "x,y x,y x,y"), which the form without script uses as is; this script keeps the
// drawing and the textarea in step. Points are in the frame's natural pixels, whatever
// size the frame is displayed at.
(function () {
  "use strict";

  var section = document.getElementById("zones");
  if (!section) {
    return;
  }
  var form = document.getElementById("zones-form");
  var box = section.querySelector(".zone-frame");
  var img = box.querySelector("img");
  var svg = box.querySelector("svg");
  var tools = section.querySelector(".zone-tools");
  var hint = section.querySelector(".zone-hint");
  var list = section.querySelector(".zone-list");
  var textarea = form.elements.points;
  var widthInput = form.elements.width;
  var heightInput = form.elements.height;
  var NS = "http://www.w3.org/2000/svg";
  var polygons = [];
  var current = [];

  function readText(text, sx, sy) {
    var found = [];
    text.split("\n").forEach(function (line) {
      var points = [];
      line.trim().split(/\s+/).forEach(function (pair) {
        var xy = pair.split(",");
        var x = parseFloat(xy[0]);
        var y = parseFloat(xy[1]);
        if (xy.length === 2 && isFinite(x) && isFinite(y)) {
          points.push([x * sx, y * sy]);
        }
      });
      if (points.length) {
        found.push(points);
      }
    });
    return found;
  }

  function round(v) {
    return Math.round(v * 10) / 10;
  }

  function writeText() {
    textarea.value = polygons.map(function (points) {
      return points.map(function (p) { return round(p[0]) + "," + round(p[1]); }).join(" ");
    }).join("\n");
  }

  function shape(name, attrs) {
    var el = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    svg.appendChild(el);
    return el;
  }

  function pointsAttr(points) {
    return points.map(function (p) { return p[0] + "," + p[1]; }).join(" ");
  }

  function draw() {
    while (svg.firstChild) {
      svg.removeChild(svg.firstChild);
    }
    polygons.forEach(function (points) {
      shape("polygon", { points: pointsAttr(points) });
    });
    if (current.length) {
      shape("polyline", { points: pointsAttr(current) });
      var r = Math.max(2, img.naturalWidth / 160);
      current.forEach(function (p) { shape("circle", { cx: p[0], cy: p[1], r: r }); });
    }
    list.textContent = "";
    polygons.forEach(function (points, i) {
      var item = document.createElement("li");
      item.textContent = "Zone " + (i + 1) + ": " + points.length + " points";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary";
      remove.textContent = "Remove zone " + (i + 1);
      remove.addEventListener("click", function () {
        polygons.splice(i, 1);
        writeText();
        draw();
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
  }

  function start() {
    var w = img.naturalWidth;
    var h = img.naturalHeight;
    if (!w || !h) {
      return; // the frame did not load: the textarea still works
    }
    // The server wrote the points for the frame size it expected; the image's own size
    // is the truth.
    var sx = w / (parseFloat(widthInput.value) || w);
    var sy = h / (parseFloat(heightInput.value) || h);
    widthInput.value = w;
    heightInput.value = h;
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    svg.setAttribute("preserveAspectRatio", "none");
    polygons = readText(textarea.value, sx, sy);
    writeText();
    tools.hidden = false;
    hint.hidden = false;
    draw();
  }

  svg.addEventListener("click", function (event) {
    var rect = svg.getBoundingClientRect();
    var x = (event.clientX - rect.left) * img.naturalWidth / rect.width;
    var y = (event.clientY - rect.top) * img.naturalHeight / rect.height;
    current.push([
      Math.min(Math.max(round(x), 0), img.naturalWidth),
      Math.min(Math.max(round(y), 0), img.naturalHeight)
    ]);
    draw();
  });

  tools.addEventListener("click", function (event) {
    var action = event.target.getAttribute("data-zone");
    if (action === "close" && current.length >= 3) {
      polygons.push(current);
      current = [];
      writeText();
    } else if (action === "undo") {
      current.pop();
    }
    draw();
  });

  textarea.addEventListener("change", function () {
    polygons = readText(textarea.value, 1, 1);
    draw();
  });

  if (img.complete) {
    start();
  } else {
    img.addEventListener("load", start);
  }
})();
