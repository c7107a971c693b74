// The permit heatmap: Tainan's district polygons as the base map (there is no tile server), the
// heat of the map cells the JSON gives, a filter form that refreshes in place, and the permits of
// the cell clicked on the map or picked in the table below it.
(function () {
  "use strict";
  var CITY = ["台南市", "臺南市"];
  var TAINAN = [[22.887, 120.027], [23.414, 120.656]];
  var CELLS_PER_DEGREE = 200;
  var PICK_RADIUS_PX = 24;

  function text(el, name, fallback, values) {
    var s = el.getAttribute("data-text-" + name) || fallback;
    Object.keys(values || {}).forEach(function (key) { s = s.split("{" + key + "}").join(values[key]); });
    return s;
  }

  function queryOf(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (String(value).trim()) params.append(key, value);
    });
    return params.toString();
  }

  function cellOf(latlng) {
    return Math.floor(latlng.lat * CELLS_PER_DEGREE) + ":" + Math.floor(latlng.lng * CELLS_PER_DEGREE);
  }

  function cellBounds(cell) {
    var parts = cell.split(":").map(Number);
    return [[parts[0] / CELLS_PER_DEGREE, parts[1] / CELLS_PER_DEGREE],
            [(parts[0] + 1) / CELLS_PER_DEGREE, (parts[1] + 1) / CELLS_PER_DEGREE]];
  }

  function span(className, value) {
    var el = document.createElement("span");
    el.className = className;
    el.textContent = value;
    return el;
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      });
  }

  function Heatmap(el) {
    this.el = el;
    this.form = document.getElementById("heatmap-filters");
    this.hot = document.getElementById("heatmap-hot");
    this.panel = document.getElementById("heatmap-cell-body");
    this.hint = document.getElementById("heatmap-cell-hint");
    this.alert = document.getElementById("heatmap-errors");
    this.alertText = this.alert.textContent;
    this.data = JSON.parse(document.getElementById("heatmap-data").textContent);
    this.query = window.location.search.replace(/^\?/, "");
    this.selected = null;
    this.requests = 0;
    this.map = L.map(el, { zoomSnap: 0.25, attributionControl: false });
    this.map.createPane("districts").style.zIndex = 350;
    this.map.fitBounds(TAINAN);
    this.heat = L.heatLayer([], { radius: 14, blur: 12, minOpacity: 0.3, maxZoom: this.map.getZoom() })
      .addTo(this.map);
    this.highlight = null;
    this.drawDistricts();
    this.drawHeat();
    this.listen();
  }

  Heatmap.prototype.drawDistricts = function () {
    var map = this.map;
    fetch(this.el.getAttribute("data-atlas"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (topology) {
        var towns = topojson.feature(topology, topology.objects.towns).features.filter(function (f) {
          return CITY.indexOf(f.properties.COUNTYNAME) !== -1;
        });
        L.geoJSON(towns, {
          pane: "districts",
          interactive: false,
          style: { color: "#8a97a8", weight: 1, fillColor: "#f7f9fb", fillOpacity: 1 },
          onEachFeature: function (feature, layer) {
            layer.bindTooltip(feature.properties.TOWNNAME.replace("台", "臺"),
              { permanent: true, direction: "center", className: "heatmap__label" });
          }
        }).addTo(map);
      })
      .catch(function () { /* the heat and the tables still work without the outlines */ });
  };

  Heatmap.prototype.drawHeat = function () {
    var cells = this.data.cells;
    var most = cells.reduce(function (m, c) { return Math.max(m, c.permits); }, 0) || 1;
    this.heat.setLatLngs(cells.map(function (c) { return [c.lat, c.lon, c.permits / most]; }));
    document.getElementById("heatmap-total").textContent = this.data.total_permits;
    document.getElementById("heatmap-cell-count").textContent = cells.length;
    this.el.setAttribute("data-cells-drawn", String(cells.length));
  };

  Heatmap.prototype.cellUrl = function (cell) {
    var url = this.el.getAttribute("data-cells").replace("__cell__", encodeURIComponent(cell));
    return this.query ? url + "?" + this.query : url;
  };

  Heatmap.prototype.drawHotTable = function () {
    var self = this;
    var body = this.hot.tBodies[0];
    var limit = Number(this.el.getAttribute("data-hot-limit")) || 20;
    body.textContent = "";
    if (!this.data.cells.length) {
      var empty = body.insertRow();
      var only = empty.insertCell();
      only.colSpan = 4;
      only.className = "muted";
      only.textContent = text(this.el, "none", "");
      return;
    }
    this.data.cells.slice(0, limit).forEach(function (c) {
      var row = body.insertRow();
      row.insertCell().textContent = c.district || text(self.el, "outside", "");
      row.insertCell().textContent = c.lat.toFixed(4) + ", " + c.lon.toFixed(4);
      row.insertCell().textContent = c.permits;
      var link = document.createElement("a");
      link.href = self.cellUrl(c.cell);
      link.setAttribute("data-cell", c.cell);
      link.textContent = text(self.el, "list", "");
      row.insertCell().appendChild(link);
    });
  };

  // The cell under the click if it has permits, else the busiest-drawn cell within a few pixels.
  Heatmap.prototype.pick = function (latlng) {
    var exact = cellOf(latlng);
    var map = this.map;
    var point = map.latLngToContainerPoint(latlng);
    var best = null;
    var bestDistance = PICK_RADIUS_PX;
    for (var i = 0; i < this.data.cells.length; i++) {
      var c = this.data.cells[i];
      if (c.cell === exact) return c.cell;
      var distance = point.distanceTo(map.latLngToContainerPoint([c.lat, c.lon]));
      if (distance <= bestDistance) { best = c.cell; bestDistance = distance; }
    }
    return best || exact;
  };

  Heatmap.prototype.showCell = function (cell) {
    var self = this;
    this.selected = cell;
    if (this.highlight) this.highlight.remove();
    this.highlight = L.rectangle(cellBounds(cell), { color: "#0b5cab", weight: 2, fill: false, interactive: false })
      .addTo(this.map);
    this.panel.textContent = text(this.el, "loading", "");
    getJson(this.cellUrl(cell)).then(function (answer) {
      if (self.selected !== cell) return;
      if (answer.status !== 200) throw new Error(String(answer.status));
      self.renderListing(answer.body);
    }).catch(function () {
      if (self.selected === cell) self.panel.textContent = text(self.el, "error", "");
    });
  };

  Heatmap.prototype.renderListing = function (listing) {
    var el = this.el;
    this.panel.textContent = "";
    if (this.hint) this.hint.hidden = true;
    var title = document.createElement("p");
    title.className = "heatmap__cell-title";
    title.textContent = text(el, "title", "", {
      district: listing.district || text(el, "outside", ""), cell: listing.cell, n: listing.total });
    this.panel.appendChild(title);
    if (!listing.permits.length) {
      var empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = text(el, "empty", "");
      this.panel.appendChild(empty);
      return;
    }
    var table = document.getElementById("heatmap-listing").content.firstElementChild.cloneNode(true);
    var body = table.tBodies[0];
    listing.permits.forEach(function (p) {
      var row = body.insertRow();
      row.insertCell().append(span("heatmap__number", p.number), " ", span("heatmap__holder", p.holder));
      row.insertCell().append(span("heatmap__date", p.valid_from), " – ", span("heatmap__date", p.valid_to));
      row.insertCell().textContent = p.vehicle_types.join("、");
      row.insertCell().textContent = p.route;
    });
    this.panel.appendChild(table);
    if (listing.total > listing.permits.length) {
      var more = document.createElement("p");
      more.className = "muted";
      more.textContent = text(el, "more", "", { n: listing.permits.length });
      this.panel.appendChild(more);
    }
  };

  Heatmap.prototype.showErrors = function (errors) {
    var form = this.form;
    form.querySelectorAll(".field__error").forEach(function (p) { p.remove(); });
    form.querySelectorAll(".field--error").forEach(function (f) { f.classList.remove("field--error"); });
    form.querySelectorAll("[aria-invalid]").forEach(function (input) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
    this.alert.textContent = this.alertText;
    this.alert.hidden = !errors;
    Object.keys(errors || {}).forEach(function (name) {
      var input = form.querySelector("[name='" + name + "']");
      var field = input && input.closest(".field");
      if (!field) return;
      field.classList.add("field--error");
      var message = document.createElement("p");
      message.className = "field__error";
      message.id = "f-" + name + "__error";
      message.textContent = errors[name].join(" ");
      var label = field.querySelector(".field__label");
      field.insertBefore(message, label ? label.nextSibling : field.firstChild);
      if (input.type !== "checkbox") {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", message.id);
      }
    });
  };

  Heatmap.prototype.refresh = function () {
    var self = this;
    var query = queryOf(this.form);
    var ticket = ++this.requests;
    getJson(this.el.getAttribute("data-json") + (query ? "?" + query : "")).then(function (answer) {
      if (ticket !== self.requests) return;
      if (answer.status === 400) { self.showErrors(answer.body.errors); return; }
      if (answer.status !== 200) throw new Error(String(answer.status));
      self.showErrors(null);
      self.query = query;
      self.data = answer.body;
      self.drawHeat();
      self.drawHotTable();
      window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
      if (self.selected) self.showCell(self.selected);
    }).catch(function () {
      if (ticket !== self.requests) return;
      self.alert.textContent = text(self.el, "error", "");
      self.alert.hidden = false;
    });
  };

  Heatmap.prototype.listen = function () {
    var self = this;
    this.map.on("click", function (event) { self.showCell(self.pick(event.latlng)); });
    this.form.addEventListener("submit", function (event) { event.preventDefault(); self.refresh(); });
    this.form.addEventListener("change", function () { self.refresh(); });
    this.hot.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-cell]");
      if (!link) return;
      event.preventDefault();
      self.showCell(link.getAttribute("data-cell"));
      document.getElementById("heatmap-cell").scrollIntoView({ block: "nearest" });
    });
  };

  function start() {
    var el = document.getElementById("heatmap-map");
    if (!el || typeof L === "undefined" || !L.heatLayer || typeof topojson === "undefined") return;
    new Heatmap(el);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
