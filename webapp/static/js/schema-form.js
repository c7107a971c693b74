/*
 * Repeatable rows for forms rendered by macros/schema_form.html.
 *
 * Markup contract:
 *   <div class="repeat" data-repeat="NAME" data-repeat-min="1" data-repeat-max="50">
 *     <div data-repeat-items>
 *       <div class="repeat__item" data-repeat-item data-repeat-index="0"> ... [data-repeat-remove] ... </div>
 *     </div>
 *     <template data-repeat-template> row markup with __INDEX__ placeholders </template>
 *     <button data-repeat-add>
 *   </div>
 *
 * New rows take the highest index in use plus one, so indices keep the on-screen
 * order; the server renumbers rows from 0 when it parses the submission.
 */
(function () {
  "use strict";

  var PLACEHOLDER = /__INDEX__/g;

  function items(repeat) {
    return repeat.querySelector("[data-repeat-items]");
  }

  function rows(repeat) {
    var container = items(repeat);
    return container ? Array.prototype.filter.call(container.children, function (el) {
      return el.hasAttribute("data-repeat-item");
    }) : [];
  }

  function limit(repeat, name, fallback) {
    var value = parseInt(repeat.getAttribute(name), 10);
    return isNaN(value) ? fallback : value;
  }

  function nextIndex(repeat) {
    return rows(repeat).reduce(function (next, row) {
      var index = parseInt(row.getAttribute("data-repeat-index"), 10);
      return isNaN(index) ? next : Math.max(next, index + 1);
    }, 0);
  }

  function ownControls(repeat, selector) {
    return Array.prototype.filter.call(repeat.querySelectorAll(selector), function (el) {
      return el.closest("[data-repeat]") === repeat;
    });
  }

  function refresh(repeat) {
    var count = rows(repeat).length;
    var min = limit(repeat, "data-repeat-min", 0);
    var max = limit(repeat, "data-repeat-max", Infinity);
    rows(repeat).forEach(function (row, position) {
      var number = row.querySelector("[data-repeat-number]");
      if (number && number.closest("[data-repeat-item]") === row) {
        number.textContent = String(position + 1);
      }
    });
    ownControls(repeat, "[data-repeat-remove]").forEach(function (button) {
      button.hidden = count <= min;
    });
    ownControls(repeat, "[data-repeat-add]").forEach(function (button) {
      button.disabled = count >= max;
    });
  }

  function firstControl(root) {
    return root.querySelector("input:not([type=hidden]), select, textarea, button");
  }

  function addRow(repeat) {
    var template = ownControls(repeat, "template[data-repeat-template]")[0];
    var container = items(repeat);
    if (!template || !container) {
      return;
    }
    var holder = document.createElement("template");
    holder.innerHTML = template.innerHTML.replace(PLACEHOLDER, String(nextIndex(repeat)));
    var row = holder.content.firstElementChild;
    if (!row) {
      return;
    }
    container.appendChild(row);
    refresh(repeat);
    var control = firstControl(row);
    if (control) {
      control.focus();
    }
  }

  function removeRow(repeat, row) {
    var all = rows(repeat);
    var position = all.indexOf(row);
    row.parentNode.removeChild(row);
    refresh(repeat);
    var remaining = rows(repeat);
    var target = remaining[Math.min(position, remaining.length - 1)];
    var control = target ? firstControl(target) : ownControls(repeat, "[data-repeat-add]")[0];
    if (control) {
      control.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) {
      return;
    }
    var add = target.closest("[data-repeat-add]");
    if (add) {
      event.preventDefault();
      addRow(add.closest("[data-repeat]"));
      return;
    }
    var remove = target.closest("[data-repeat-remove]");
    if (remove) {
      event.preventDefault();
      var row = remove.closest("[data-repeat-item]");
      var repeat = row && row.closest("[data-repeat]");
      if (repeat) {
        removeRow(repeat, row);
      }
    }
  });

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-repeat]"), refresh);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
