// Draws a case's BPMN diagram in each [data-diagram-src] container and marks where the case is:
// the JSON at that address gives the XML and the element ids of the current and finished stages.
(function () {
  "use strict";
  var SEPARATOR = "、";

  function text(container, name, fallback) {
    return container.getAttribute("data-" + name) || fallback;
  }

  function show(container, message) {
    container.textContent = "";
    var p = document.createElement("p");
    p.className = "case-diagram__message muted";
    p.textContent = message;
    container.appendChild(p);
  }

  function stageNames(registry, ids) {
    var names = [];
    ids.forEach(function (id) {
      var element = registry.get(id);
      var name = element && element.businessObject && element.businessObject.name;
      name = (name || id).replace(/\s+/g, " ").trim();
      if (names.indexOf(name) === -1) names.push(name);
    });
    return names;
  }

  function mark(viewer, container, state) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var current = (state.current || []).filter(function (id) { return registry.get(id); });
    (state.done || []).forEach(function (id) {
      if (registry.get(id)) canvas.addMarker(id, "is-done");
    });
    current.forEach(function (id) { canvas.addMarker(id, "is-current"); });
    var names = stageNames(registry, current);
    container.setAttribute("aria-label", names.length
      ? text(container, "label-current", "目前階段：{stages}").replace("{stages}", names.join(SEPARATOR))
      : text(container, "label-none", "流程圖：目前沒有進行中的階段"));
  }

  function fit(viewer) {
    var canvas = viewer.get("canvas");
    canvas.resized();
    canvas.zoom("fit-viewport", "auto");
  }

  function draw(container) {
    if (container.getAttribute("data-diagram-drawn")) return;
    container.setAttribute("data-diagram-drawn", "1");
    var failed = text(container, "message-error", "流程圖暫時無法顯示，請稍後再試。");
    if (typeof BpmnJS === "undefined" || !window.fetch) {
      show(container, failed);
      return;
    }
    fetch(container.getAttribute("data-diagram-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (state) {
        container.textContent = "";
        var viewer = new BpmnJS({ container: container });
        return viewer.importXML(state.xml).then(function () {
          fit(viewer);
          mark(viewer, container, state);
          var pending;
          window.addEventListener("resize", function () {
            clearTimeout(pending);
            pending = setTimeout(function () { fit(viewer); }, 150);
          });
        });
      })
      .catch(function () { show(container, failed); });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-diagram-src]"), draw);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
