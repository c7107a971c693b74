// Analyst studio form editor: one form definition ({title, title_en, schema, ui}) edited in a field table
// and as raw JSON, kept in step both ways, with a preview the server renders through the real form macros.
// Data, addresses and wording come from the page's JSON blocks (#form-editor-data, #form-editor-labels).
(function () {
  "use strict";

  var PREVIEW_DELAY = 400;
  var PROPERTY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
  var COLUMNS = 6;
  var OPEN_OPTIONS_UP_TO = 6;
  var TABLE_KINDS = ["text", "textarea", "number", "integer", "date", "time", "email", "tel",
    "boolean", "choice", "multi", "file"];
  var MEDIA_LABELS = { "application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG",
    "image/gif": "GIF", "image/tiff": "TIFF", "image/webp": "WebP" };
  var ALWAYS_KEPT_UI = ["ui:title_en", "ui:help", "ui:help_en", "ui:messages", "ui:messages_en"];
  var TYPED_UI = ["ui:placeholder", "ui:placeholder_en", "ui:autocomplete", "ui:transform"];
  var TYPED_KINDS = ["text", "textarea", "number", "integer", "email", "tel"];
  var KEYWORD_FAMILIES = [
    { kinds: ["text", "textarea", "tel", "email"], keywords: ["minLength", "maxLength", "pattern"] },
    { kinds: ["number", "integer"], keywords: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"] }
  ];
  var KIND_SHAPES = {
    text: { schema: { type: "string" } },
    textarea: { schema: { type: "string" }, widget: "textarea" },
    number: { schema: { type: "number" } },
    integer: { schema: { type: "integer" } },
    date: { schema: { type: "string", format: "date" }, widget: "date" },
    time: { schema: { type: "string", format: "time" }, widget: "time" },
    email: { schema: { type: "string", format: "email" }, widget: "email" },
    tel: { schema: { type: "string" }, widget: "tel" },
    boolean: { schema: { type: "boolean" } },
    choice: { schema: { type: "string", enum: [] }, widget: "radio" },
    multi: { schema: { type: "array", items: { type: "string", enum: [] }, uniqueItems: true }, widget: "checkboxes" },
    file: { schema: { type: "object", "x-attachment": { accept: ["application/pdf", "image/png", "image/jpeg"], maxBytes: 10485760 } },
      widget: "file" }
  };

  var root, table, labels, urls, state;

  // ---------------------------------------------------------------- small helpers

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function clone(value) {
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }

  function readJson(id) {
    var node = document.getElementById(id);
    try {
      return node ? JSON.parse(node.textContent) : {};
    } catch (e) {
      return {};
    }
  }

  function kindLabel(kind) {
    return (isObject(labels.kinds) && labels.kinds[kind]) || kind;
  }

  function presentationLabel(widget) {
    return (isObject(labels.presentations) && labels.presentations[widget]) || widget;
  }

  function text(name, params) {
    var template = labels[name] || name;
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return params && params[key] !== undefined ? String(params[key]) : whole;
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === false || value === null || value === undefined) return;
      if (name === "text") node.textContent = value;
      else if (["value", "checked", "disabled", "readOnly", "selected", "open", "hidden"].indexOf(name) !== -1) node[name] = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clock() {
    var now = new Date();
    return [now.getHours(), now.getMinutes(), now.getSeconds()].map(function (n) {
      return (n < 10 ? "0" : "") + n;
    }).join(":");
  }

  function sizeLabel(bytes) {
    if (bytes >= 1048576) return Math.round(bytes / 104857.6) / 10 + " MB";
    if (bytes >= 1024) return Math.round(bytes / 102.4) / 10 + " KB";
    return bytes + " B";
  }

  function types(schema) {
    if (typeof schema.type === "string") return [schema.type];
    return Array.isArray(schema.type) ? schema.type : [];
  }

  // ---------------------------------------------------------------- the definition

  function properties() {
    var schema = state.def.schema;
    return isObject(schema) && isObject(schema.properties) ? schema.properties : {};
  }

  function writableProperties() {
    if (!isObject(state.def.schema.properties)) state.def.schema.properties = {};
    return state.def.schema.properties;
  }

  function formUi() {
    if (!isObject(state.def.ui)) state.def.ui = {};
    return state.def.ui;
  }

  function fieldUi(key) {
    var ui = state.def.ui;
    return isObject(ui) && isObject(ui[key]) ? ui[key] : {};
  }

  function setFieldUi(key, name, value) {
    var ui = formUi();
    var own = isObject(ui[key]) ? ui[key] : {};
    if (value === "" || value === null || value === undefined) delete own[name];
    else own[name] = value;
    if (Object.keys(own).length) ui[key] = own;
    else delete ui[key];
  }

  function requiredKeys() {
    var required = state.def.schema.required;
    return Array.isArray(required) ? required : [];
  }

  function setRequired(key, on) {
    var required = requiredKeys().filter(function (k) { return k !== key; });
    if (on) required.push(key);
    if (required.length) state.def.schema.required = required;
    else delete state.def.schema.required;
  }

  /** Field keys in display order, as the renderer orders them: ui:order, with "*" (or the end) for the rest. */
  function fieldOrder() {
    var keys = Object.keys(properties());
    var ui = isObject(state.def.ui) ? state.def.ui : {};
    var listed = Array.isArray(ui["ui:order"]) ? ui["ui:order"] : [];
    var order = [];
    listed.forEach(function (k) {
      if ((k === "*" || keys.indexOf(k) !== -1) && order.indexOf(k) === -1) order.push(k);
    });
    var rest = keys.filter(function (k) { return order.indexOf(k) === -1; });
    if (order.indexOf("*") === -1) order.push("*");
    var at = order.indexOf("*");
    return order.slice(0, at).concat(rest, order.slice(at + 1));
  }

  function kindOf(schema, ui) {
    if (!isObject(schema)) return "custom";
    if ("x-attachment" in schema) return "file";
    if (isObject(schema.properties)) return "object";
    var declared = types(schema);
    if (declared.indexOf("array") !== -1) {
      var items = isObject(schema.items) ? schema.items : {};
      if (isObject(items.properties)) return "repeat";
      return Array.isArray(items.enum) ? "multi" : "custom";
    }
    var widget = ui["ui:widget"];
    if (widget === "hidden" || ui["ui:choices"]) return "custom";
    if (declared.length === 1 && declared[0] === "boolean") return "boolean";
    if (Array.isArray(schema.enum)) return "choice";
    if (declared.indexOf("integer") !== -1) return "integer";
    if (declared.indexOf("number") !== -1) return "number";
    if (schema.format === "date") return "date";
    if (schema.format === "time") return "time";
    if (schema.format === "email" || widget === "email") return "email";
    if (widget === "tel") return "tel";
    if (widget === "textarea") return "textarea";
    return declared.length === 0 || declared.indexOf("string") !== -1 ? "text" : "custom";
  }

  function fieldKind(key) {
    return kindOf(properties()[key], fieldUi(key));
  }

  function choiceSchema(schema) {
    return kindOf(schema, {}) === "multi" ? schema.items : schema;
  }

  function readOptions(key) {
    var schema = properties()[key];
    var values = Array.isArray(choiceSchema(schema).enum) ? choiceSchema(schema).enum : [];
    var ui = fieldUi(key);
    var zh = Array.isArray(ui["ui:enumNames"]) ? ui["ui:enumNames"] : [];
    var en = Array.isArray(ui["ui:enumNames_en"]) ? ui["ui:enumNames_en"] : [];
    return values.map(function (value, i) {
      return { value: value, zh: zh[i] === undefined ? "" : String(zh[i]), en: en[i] === undefined ? "" : String(en[i]) };
    });
  }

  /**
   * Enum values and their labels. Label lists are written only when some label is given, and then
   * in full (the renderer needs one per value): a blank Chinese label shows the value, a blank
   * English one the Chinese label, as the renderer itself would.
   */
  function writeOptions(key, options) {
    choiceSchema(properties()[key]).enum = options.map(function (o) { return o.value; });
    var zh = options.map(function (o) { return o.zh || String(o.value); });
    var en = options.map(function (o, i) { return o.en || zh[i]; });
    var anyZh = options.some(function (o) { return o.zh; });
    var anyEn = options.some(function (o) { return o.en; });
    setFieldUi(key, "ui:enumNames", anyZh ? zh : null);
    setFieldUi(key, "ui:enumNames_en", anyEn ? en : null);
  }

  function optionValue(key, raw) {
    var declared = types(choiceSchema(properties()[key]));
    var numeric = declared.indexOf("integer") !== -1 || declared.indexOf("number") !== -1;
    return numeric && raw.trim() !== "" && isFinite(Number(raw)) ? Number(raw) : raw;
  }

  function keptKeywords(oldKind, newKind) {
    var family = KEYWORD_FAMILIES.filter(function (f) {
      return f.kinds.indexOf(oldKind) !== -1 && f.kinds.indexOf(newKind) !== -1;
    })[0];
    return family ? family.keywords : [];
  }

  /** Reshape a field for another table type, keeping its titles, help and whatever still applies. */
  function applyKind(key, kind) {
    var old = properties()[key];
    var oldKind = fieldKind(key);
    var oldUi = fieldUi(key);
    var options = oldKind === "choice" || oldKind === "multi" ? readOptions(key) : [];
    var shape = KIND_SHAPES[kind];
    var next = clone(shape.schema);
    ["title", "description"].concat(keptKeywords(oldKind, kind)).forEach(function (name) {
      if (name in old) next[name] = old[name];
    });
    if (options.length && (oldKind === "choice" || oldKind === "multi")) {
      choiceSchema(next).type = choiceSchema(old).type || "string";
    }
    writableProperties()[key] = next;
    var ui = {};
    ALWAYS_KEPT_UI.concat(TYPED_KINDS.indexOf(kind) !== -1 ? TYPED_UI : []).forEach(function (name) {
      if (name in oldUi) ui[name] = oldUi[name];
    });
    var widget = shape.widget;
    if (kind === "choice" && (oldUi["ui:widget"] === "radio" || oldUi["ui:widget"] === "select")) widget = oldUi["ui:widget"];
    if (widget) ui["ui:widget"] = widget;
    formUi()[key] = ui;
    if (kind === "choice" || kind === "multi") writeOptions(key, options);
  }

  function uniqueKey() {
    var taken = properties();
    for (var n = 1; ; n++) {
      if (!("field_" + n in taken)) return "field_" + n;
    }
  }

  function addField() {
    var key = uniqueKey();
    writableProperties()[key] = { type: "string", title: text("newTitle") };
    var ui = formUi();
    ui["ui:order"] = Array.isArray(ui["ui:order"]) ? ui["ui:order"].concat([key]) : fieldOrder();
    return key;
  }

  function keyProblem(oldKey, newKey) {
    if (!PROPERTY_RE.test(newKey) || newKey.indexOf("__") !== -1) return text("keyInvalid");
    if (newKey !== oldKey && newKey in properties()) return text("keyTaken", { key: newKey });
    return "";
  }

  function renameField(oldKey, newKey) {
    var renamed = {};
    Object.keys(properties()).forEach(function (k) {
      renamed[k === oldKey ? newKey : k] = properties()[k];
    });
    state.def.schema.properties = renamed;
    var ui = formUi();
    var rebuilt = {};
    Object.keys(ui).forEach(function (k) {
      rebuilt[k === oldKey ? newKey : k] = ui[k];
    });
    if (Array.isArray(rebuilt["ui:order"])) {
      rebuilt["ui:order"] = rebuilt["ui:order"].map(function (k) { return k === oldKey ? newKey : k; });
    }
    state.def.ui = rebuilt;
    if (requiredKeys().indexOf(oldKey) !== -1) {
      state.def.schema.required = requiredKeys().map(function (k) { return k === oldKey ? newKey : k; });
    }
  }

  function removeField(key) {
    delete writableProperties()[key];
    var ui = formUi();
    delete ui[key];
    if (Array.isArray(ui["ui:order"])) ui["ui:order"] = ui["ui:order"].filter(function (k) { return k !== key; });
    setRequired(key, false);
  }

  function moveField(key, step) {
    var order = fieldOrder();
    var at = order.indexOf(key);
    var to = at + step;
    if (at === -1 || to < 0 || to >= order.length) return;
    order[at] = order[to];
    order[to] = key;
    formUi()["ui:order"] = order;
  }

  function snapshot() {
    return JSON.stringify(state.def);
  }

  function isDirty() {
    return snapshot() !== state.savedSnapshot;
  }

  // ---------------------------------------------------------------- the field table

  function control(tag, attrs) {
    attrs.disabled = !state.canEdit;
    return el(tag, attrs);
  }

  function actionButton(action, label, symbol, key, disabled) {
    return el("button", { type: "button", "class": "form-editor__icon", "data-action": action,
      "aria-label": label + " " + key, title: label, disabled: disabled, text: symbol });
  }

  function orderCell(key, index, count) {
    if (!state.canEdit) return el("td", { "class": "form-editor__order", text: String(index + 1) });
    return el("td", { "class": "form-editor__order" }, [
      actionButton("up", text("moveUp"), "↑", key, index === 0),
      actionButton("down", text("moveDown"), "↓", key, index === count - 1)
    ]);
  }

  function keyCell(key) {
    if (!state.canEdit || state.savedKeys[key]) {
      return el("td", {}, [el("code", { "class": "form-editor__key", text: key })]);
    }
    return el("td", {}, [
      control("input", { "class": "input form-editor__code", name: "key", type: "text", value: key,
        "aria-label": text("key"), autocomplete: "off", spellcheck: "false" }),
      el("p", { "class": "field__error", "data-key-error": true, hidden: true })
    ]);
  }

  function titleCell(key) {
    var schema = properties()[key];
    return el("td", { "class": "form-editor__titles-cell" }, [
      control("input", { "class": "input", name: "title", type: "text", lang: "zh-Hant-TW",
        value: isObject(schema) && schema.title ? String(schema.title) : "", "aria-label": text("title") + " " + key,
        placeholder: text("title") }),
      control("input", { "class": "input", name: "title_en", type: "text", lang: "en",
        value: fieldUi(key)["ui:title_en"] || "", "aria-label": text("titleEn") + " " + key, placeholder: text("titleEn") })
    ]);
  }

  function kindCell(key) {
    var kind = fieldKind(key);
    if (TABLE_KINDS.indexOf(kind) === -1) {
      return el("td", {}, [
        el("span", { "class": "form-editor__kind", text: kindLabel(kind) }),
        el("button", { type: "button", "class": "btn btn--link form-editor__json-link", "data-action": "json", text: text("editJson") })
      ]);
    }
    var select = control("select", { "class": "input", name: "kind", "aria-label": text("kind") + " " + key });
    TABLE_KINDS.forEach(function (k) {
      select.appendChild(el("option", { value: k, text: kindLabel(k), selected: k === kind }));
    });
    return el("td", {}, [select]);
  }

  function requiredCell(key) {
    return el("td", { "class": "form-editor__required" }, [
      control("input", { type: "checkbox", name: "required", checked: requiredKeys().indexOf(key) !== -1,
        "aria-label": text("required") + " " + key })
    ]);
  }

  function actionCell(key) {
    if (!state.canEdit) return el("td", {});
    return el("td", { "class": "form-editor__actions" }, [
      el("button", { type: "button", "class": "btn btn--link form-editor__delete", "data-action": "delete",
        "aria-label": text("remove") + " " + key, text: text("remove") })
    ]);
  }

  function labelled(caption, input) {
    return el("label", { "class": "form-editor__mini" }, [el("span", { text: caption }), input]);
  }

  function helpInputs(key) {
    var ui = fieldUi(key);
    return [
      labelled(text("help"), control("input", { "class": "input", name: "help", type: "text", lang: "zh-Hant-TW", value: ui["ui:help"] || "" })),
      labelled(text("helpEn"), control("input", { "class": "input", name: "help_en", type: "text", lang: "en", value: ui["ui:help_en"] || "" }))
    ];
  }

  function presentationInput(key) {
    var widget = fieldUi(key)["ui:widget"] || "select";
    var select = control("select", { "class": "input", name: "presentation" });
    ["radio", "select"].forEach(function (w) {
      select.appendChild(el("option", { value: w, text: presentationLabel(w), selected: w === widget }));
    });
    return labelled(text("presentation"), select);
  }

  function optionRow(option, index) {
    var value = option.value === null || option.value === undefined ? "" : String(option.value);
    var row = el("div", { "class": "form-editor__option", "data-option": String(index) }, [
      control("input", { "class": "input form-editor__code", name: "option_value", type: "text", value: value,
        "aria-label": text("optionValue") + " " + (index + 1) }),
      control("input", { "class": "input", name: "option_name", type: "text", lang: "zh-Hant-TW", value: option.zh,
        placeholder: value, "aria-label": text("optionName") + " " + (index + 1) }),
      control("input", { "class": "input", name: "option_name_en", type: "text", lang: "en", value: option.en,
        placeholder: option.zh || value, "aria-label": text("optionNameEn") + " " + (index + 1) })
    ]);
    if (state.canEdit) row.appendChild(actionButton("remove-option", text("removeOption"), "×", String(index + 1)));
    return row;
  }

  function optionsEditor(key) {
    var options = readOptions(key);
    var open = key in state.openOptions ? state.openOptions[key] : options.length <= OPEN_OPTIONS_UP_TO;
    var header = el("div", { "class": "form-editor__option form-editor__option--head", "aria-hidden": "true" }, [
      el("span", { text: text("optionValue") }), el("span", { text: text("optionName") }), el("span", { text: text("optionNameEn") })
    ]);
    var details = el("details", { "class": "form-editor__options", "data-options-for": key, open: open }, [
      el("summary", { text: text("options") + " · " + text("optionsCount", { count: options.length }) }),
      header
    ].concat(options.map(optionRow)));
    if (state.canEdit) {
      details.appendChild(el("button", { type: "button", "class": "btn btn--link", "data-action": "add-option", text: text("addOption") }));
    }
    return details;
  }

  function attachmentNote(key) {
    var spec = properties()[key]["x-attachment"];
    spec = isObject(spec) ? spec : {};
    var accept = Array.isArray(spec.accept) ? spec.accept : [];
    var kinds = accept.map(function (t) { return MEDIA_LABELS[t] || String(t).split("/").pop().toUpperCase(); });
    return el("p", { "class": "muted form-editor__note", text: text("attachment", {
      types: kinds.join("、"), size: typeof spec.maxBytes === "number" ? sizeLabel(spec.maxBytes) : "—" }) });
  }

  function detailContent(key) {
    var kind = fieldKind(key);
    var parts = [el("div", { "class": "form-editor__help" }, helpInputs(key))];
    if (kind === "choice") parts.push(presentationInput(key));
    if (kind === "choice" || kind === "multi") parts.push(optionsEditor(key));
    if (kind === "file") parts.push(attachmentNote(key));
    if (kind === "object" || kind === "repeat") parts.push(el("p", { "class": "muted form-editor__note", text: text("groupKind") }));
    if (kind === "custom") parts.push(el("p", { "class": "muted form-editor__note", text: text("customKind") }));
    return parts;
  }

  function fieldGroup(key, index, count) {
    var main = el("tr", { "data-field": key }, [
      orderCell(key, index, count), keyCell(key), titleCell(key), kindCell(key), requiredCell(key), actionCell(key)
    ]);
    var details = el("tr", { "class": "form-editor__details", "data-field-details": key }, [
      el("td", { colspan: String(COLUMNS) }, [el("div", { "class": "form-editor__details-grid" }, detailContent(key))])
    ]);
    return el("tbody", { "class": "form-editor__field", "data-field-group": key }, [main, details]);
  }

  function renderTable() {
    Array.prototype.slice.call(table.tBodies).forEach(function (body) { table.removeChild(body); });
    var order = fieldOrder();
    order.forEach(function (key, index) {
      table.appendChild(fieldGroup(key, index, order.length));
    });
    if (!order.length) {
      table.appendChild(el("tbody", {}, [el("tr", {}, [el("td", { colspan: String(COLUMNS), "class": "muted", text: text("noFields") })])]));
    }
  }

  function fieldKey(node) {
    var group = node.closest("[data-field-group]");
    return group ? group.getAttribute("data-field-group") : null;
  }

  function focusField(key, selector) {
    var group = table.querySelector('[data-field-group="' + (window.CSS && CSS.escape ? CSS.escape(key) : key) + '"]');
    var target = group && group.querySelector(selector);
    if (target) target.focus();
    return !!target;
  }

  function collectOptions(details) {
    return Array.prototype.map.call(details.querySelectorAll("[data-option]"), function (row) {
      var key = details.getAttribute("data-options-for");
      return {
        value: optionValue(key, row.querySelector('[name="option_value"]').value),
        zh: row.querySelector('[name="option_name"]').value,
        en: row.querySelector('[name="option_name_en"]').value
      };
    });
  }

  function onTableInput(event) {
    var target = event.target;
    var key = fieldKey(target);
    if (!key || !isObject(properties()[key])) return;
    var handled = true;
    if (target.name === "title") properties()[key].title = target.value;
    else if (target.name === "title_en") setFieldUi(key, "ui:title_en", target.value);
    else if (target.name === "help") setFieldUi(key, "ui:help", target.value);
    else if (target.name === "help_en") setFieldUi(key, "ui:help_en", target.value);
    else if (/^option_/.test(target.name)) writeOptions(key, collectOptions(target.closest("[data-options-for]")));
    else handled = false;
    if (handled) changed("table");
  }

  function onTableChange(event) {
    var target = event.target;
    var key = fieldKey(target);
    if (!key || !isObject(properties()[key])) return;
    if (target.name === "kind") {
      applyKind(key, target.value);
      rerender(key, '[name="kind"]');
    } else if (target.name === "required") {
      setRequired(key, target.checked);
      changed("table");
    } else if (target.name === "presentation") {
      setFieldUi(key, "ui:widget", target.value);
      changed("table");
    } else if (target.name === "key") {
      renameFromInput(key, target);
    }
  }

  function renameFromInput(key, input) {
    var wanted = input.value.trim();
    var problem = keyProblem(key, wanted);
    var message = input.parentNode.querySelector("[data-key-error]");
    message.textContent = problem;
    message.hidden = !problem;
    input.setAttribute("aria-invalid", problem ? "true" : "false");
    if (problem || wanted === key) return;
    renameField(key, wanted);
    rerender(wanted, '[name="key"]');
  }

  function onTableClick(event) {
    var button = event.target.closest("[data-action]");
    if (!button || !table.contains(button)) return;
    var key = fieldKey(button);
    var action = button.getAttribute("data-action");
    if (!key) return;
    if (action === "json") {
      showInJson(key);
      return;
    }
    if (!state.canEdit) return;
    if (action === "up" || action === "down") {
      moveField(key, action === "up" ? -1 : 1);
      rerender(null);
      if (!focusField(key, '[data-action="' + action + '"]:not([disabled])')) focusField(key, '[data-action]:not([disabled])');
    } else if (action === "delete") {
      var title = properties()[key] && properties()[key].title;
      if (!window.confirm(text("removeConfirm", { name: title ? title + "（" + key + "）" : key }))) return;
      removeField(key);
      delete state.openOptions[key];
      rerender(null);
    } else if (action === "add-option") {
      var options = readOptions(key).concat([{ value: "", zh: "", en: "" }]);
      writeOptions(key, options);
      state.openOptions[key] = true;
      rerender(key, '[data-option="' + (options.length - 1) + '"] [name="option_value"]');
    } else if (action === "remove-option") {
      var index = Number(button.closest("[data-option]").getAttribute("data-option"));
      writeOptions(key, readOptions(key).filter(function (o, i) { return i !== index; }));
      rerender(key, '[data-action="add-option"]');
    }
  }

  function onTableToggle(event) {
    var details = event.target;
    if (details.matches && details.matches("[data-options-for]")) {
      state.openOptions[details.getAttribute("data-options-for")] = details.open;
    }
  }

  function rerender(key, focusSelector) {
    renderTable();
    if (key && focusSelector) focusField(key, focusSelector);
    changed("table");
  }

  // ---------------------------------------------------------------- raw JSON tabs

  function jsonArea(which) {
    return document.getElementById("form-" + which + "-json");
  }

  function jsonError(which, message) {
    var area = jsonArea(which);
    var note = document.getElementById("form-" + which + "-json-error");
    state.badJson[which] = !!message;
    note.textContent = message || "";
    note.hidden = !message;
    area.setAttribute("aria-invalid", message ? "true" : "false");
  }

  function writeJson(which) {
    var value = state.def[which] === undefined ? {} : state.def[which];
    jsonArea(which).value = JSON.stringify(value, null, 2);
    jsonError(which, "");
  }

  function onJsonInput(which) {
    var parsed;
    try {
      parsed = JSON.parse(jsonArea(which).value);
    } catch (e) {
      jsonError(which, text("jsonInvalid", { detail: e.message }));
      return;
    }
    if (!isObject(parsed)) {
      jsonError(which, text("jsonNotObject"));
      return;
    }
    jsonError(which, "");
    state.def[which] = parsed;
    changed(which);
  }

  /** Open the schema JSON with the field's property selected, for what the table does not edit. */
  function showInJson(key) {
    selectTab("schema");
    var area = jsonArea("schema");
    var value = area.value;
    var block = '"' + key + '": ' + JSON.stringify(properties()[key], null, 2).replace(/\n/g, "\n    ");
    var start = value.indexOf("\n    " + block);
    var length = block.length;
    if (start === -1) {
      start = value.indexOf('\n    "' + key + '": ');
      length = key.length + 2;
    }
    area.focus();
    if (start === -1) return;
    start += 5;
    area.setSelectionRange(start, start + length);
    var lineHeight = parseFloat(window.getComputedStyle(area).lineHeight) || 18;
    area.scrollTop = Math.max(0, (value.slice(0, start).split("\n").length - 3) * lineHeight);
  }

  function selectTab(name) {
    Array.prototype.forEach.call(root.querySelectorAll('[role="tab"]'), function (tab) {
      var selected = tab.id === "tab-" + name;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
    });
  }

  function onTabKey(event) {
    var tabs = Array.prototype.slice.call(root.querySelectorAll('[role="tab"]'));
    var at = tabs.indexOf(event.target);
    var step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (at === -1 || !step) return;
    event.preventDefault();
    var next = tabs[(at + step + tabs.length) % tabs.length];
    selectTab(next.id.replace("tab-", ""));
    next.focus();
  }

  // ---------------------------------------------------------------- server calls

  function post(url, body) {
    return window.onestopPostJson(url, body);
  }

  /** Problems come as text (form checks) or as {element, message} (the draft's diagram checks). */
  function problemText(problem) {
    if (!isObject(problem)) return String(problem);
    return (problem.element ? problem.element + "：" : "") + (problem.message || "");
  }

  function fillProblems(prefix, message, problems, tone) {
    var box = document.getElementById(prefix);
    var list = document.getElementById(prefix + "-list");
    document.getElementById(prefix + "-message").textContent = message || "";
    list.textContent = "";
    (problems || []).forEach(function (p) { list.appendChild(el("li", { text: problemText(p) })); });
    box.classList.toggle("notice--warning", tone === "warning");
    box.classList.toggle("notice--error", tone !== "warning");
    box.hidden = !message && !(problems && problems.length);
    return box;
  }

  // ---------------------------------------------------------------- preview

  function schedulePreview() {
    window.clearTimeout(state.previewTimer);
    state.previewTimer = window.setTimeout(requestPreview, PREVIEW_DELAY);
  }

  function previewBusy(busy) {
    var preview = document.getElementById("form-preview");
    preview.setAttribute("aria-busy", busy ? "true" : "false");
    preview.classList.toggle("is-loading", busy);
    document.getElementById("form-preview-state").textContent = busy ? text("previewLoading") : "";
  }

  function requestPreview() {
    var seq = ++state.previewSeq;
    var current = function () { return seq === state.previewSeq; };
    previewBusy(true);
    post(urls.preview, { definition: state.def, locale: state.locale, audience: state.audience })
      .then(function (response) {
        if (!current()) return null;
        if (response.ok) return response.text().then(function (html) { if (current()) showPreview(html); });
        if (response.status === 400) {
          return response.json().then(function (body) { if (current()) showPreviewProblems(body.problems || []); });
        }
        throw new Error("preview " + response.status);
      })
      .catch(function () {
        if (current()) fillProblems("form-preview-problems", text("previewFailed"), []);
      })
      .then(function () {
        if (current()) previewBusy(false);
      });
  }

  function previewFrame() {
    return root.querySelector(".form-editor__preview");
  }

  function showPreview(html) {
    var preview = document.getElementById("form-preview");
    preview.innerHTML = html;
    previewFrame().hidden = false;
    settleRepeats(preview);
    fillProblems("form-preview-problems", "", []);
  }

  function showPreviewProblems(problems) {
    previewFrame().hidden = true;
    fillProblems("form-preview-problems", text("previewRefused"), problems);
  }

  /** Hide "remove" at minItems and disable "add" at maxItems, as schema-form.js does on page load. */
  function settleRepeats(container) {
    Array.prototype.forEach.call(container.querySelectorAll("[data-repeat]"), function (repeat) {
      var own = function (selector) {
        return Array.prototype.filter.call(repeat.querySelectorAll(selector), function (n) {
          return n.closest("[data-repeat]") === repeat;
        });
      };
      var count = own("[data-repeat-item]").length;
      var min = parseInt(repeat.getAttribute("data-repeat-min"), 10) || 0;
      var max = parseInt(repeat.getAttribute("data-repeat-max"), 10);
      own("[data-repeat-remove]").forEach(function (b) { b.hidden = count <= min; });
      own("[data-repeat-add]").forEach(function (b) { b.disabled = !isNaN(max) && count >= max; });
    });
  }

  function onToggle(event) {
    var button = event.target.closest("[data-audience], [data-locale]");
    if (!button) return;
    var attribute = button.hasAttribute("data-audience") ? "data-audience" : "data-locale";
    Array.prototype.forEach.call(root.querySelectorAll("[" + attribute + "]"), function (b) {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
    if (attribute === "data-audience") state.audience = button.getAttribute(attribute);
    else state.locale = button.getAttribute(attribute);
    schedulePreview();
  }

  // ---------------------------------------------------------------- saving

  function status(message, tone) {
    var line = document.getElementById("form-status");
    line.textContent = message;
    line.classList.toggle("is-ok", tone === "ok");
    line.classList.toggle("is-error", tone === "error");
  }

  function badJsonTab() {
    return state.badJson.schema ? "schema" : state.badJson.ui ? "ui" : null;
  }

  function save() {
    if (!state.canEdit || state.saving) return;
    var bad = badJsonTab();
    if (bad) {
      status(text("jsonBlocksSave"), "error");
      selectTab(bad);
      jsonArea(bad).focus();
      return;
    }
    var sent = snapshot();
    state.saving = true;
    setSaveDisabled(true);
    status(text("saving"));
    post(urls.save, { definition: state.def, revision: state.revision })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          saved(response.status, body || {}, sent);
        });
      })
      .catch(function () { status(text("saveFailed"), "error"); })
      .then(function () {
        state.saving = false;
        setSaveDisabled(false);
      });
  }

  function saved(code, body, sent) {
    if (code === 200) {
      state.revision = body.revision;
      state.savedSnapshot = sent;
      var fresh = Object.keys(properties()).filter(function (k) { return !state.savedKeys[k]; });
      fresh.forEach(function (k) { state.savedKeys[k] = true; });
      if (fresh.length) renderTable();
      var remaining = body.problems || [];
      fillProblems("form-problems", remaining.length ? text("savedWithProblems") : "", remaining, "warning");
      status(isDirty() ? text("unsaved") : text("saved", { time: clock() }), isDirty() ? "" : "ok");
    } else if (code === 400) {
      fillProblems("form-problems", body.message || text("saveRefused"), body.problems || []).scrollIntoView({ block: "nearest" });
      status(text("saveRefused"), "error");
    } else if (code === 409) {
      fillProblems("form-problems", body.message || text("saveConflict"), []);
      status(body.message || text("saveConflict"), "error");
    } else {
      status(body.message || text("saveFailed"), "error");
    }
  }

  function setSaveDisabled(disabled) {
    var button = document.getElementById("form-save");
    if (button) button.disabled = disabled;
  }

  // ---------------------------------------------------------------- wiring

  /** Bring the other views of the definition up to date after an edit in ``source``. */
  function changed(source) {
    if (source !== "schema") writeJson("schema");
    if (source !== "ui") writeJson("ui");
    if (source === "schema" || source === "ui") renderTable();
    if (state.canEdit) status(text(isDirty() ? "unsaved" : "clean"));
    schedulePreview();
  }

  function bindTitles() {
    [["form-title", "title"], ["form-title-en", "title_en"]].forEach(function (pair) {
      var input = document.getElementById(pair[0]);
      input.value = state.def[pair[1]] || "";
      input.readOnly = !state.canEdit;
      input.addEventListener("input", function () {
        state.def[pair[1]] = input.value;
        changed("titles");
      });
    });
  }

  function bindJson() {
    ["schema", "ui"].forEach(function (which) {
      var area = jsonArea(which);
      area.readOnly = !state.canEdit;
      area.addEventListener("input", function () { onJsonInput(which); });
      writeJson(which);
    });
  }

  function bindPage() {
    table.addEventListener("input", onTableInput);
    table.addEventListener("change", onTableChange);
    table.addEventListener("click", onTableClick);
    table.addEventListener("toggle", onTableToggle, true);
    root.querySelector('[role="tablist"]').addEventListener("click", function (event) {
      var tab = event.target.closest('[role="tab"]');
      if (tab) selectTab(tab.id.replace("tab-", ""));
    });
    root.querySelector('[role="tablist"]').addEventListener("keydown", onTabKey);
    root.addEventListener("click", onToggle);
    previewFrame().addEventListener("submit", function (event) { event.preventDefault(); });
    var add = document.getElementById("form-add-field");
    if (add) {
      add.addEventListener("click", function () {
        var key = addField();
        renderTable();
        focusField(key, '[name="key"]');
        changed("table");
      });
    }
    var saveButton = document.getElementById("form-save");
    if (saveButton) saveButton.addEventListener("click", save);
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "s" || event.key === "S")) {
        event.preventDefault();
        save();
      }
    });
    window.addEventListener("beforeunload", function (event) {
      if (state.canEdit && isDirty()) {
        event.preventDefault();
        event.returnValue = text("leaveWarning");
      }
    });
  }

  function initialDefinition(raw) {
    var def = isObject(raw) ? clone(raw) : {};
    if (!isObject(def.schema)) def.schema = { type: "object", properties: {} };
    return def;
  }

  function start() {
    root = document.getElementById("form-editor");
    table = document.getElementById("form-fields");
    if (!root || !table) return;
    var data = readJson("form-editor-data");
    labels = readJson("form-editor-labels");
    urls = data.urls || {};
    state = {
      def: initialDefinition(data.definition),
      revision: data.revision,
      canEdit: root.getAttribute("data-can-edit") === "true",
      savedKeys: {},
      openOptions: {},
      badJson: { schema: false, ui: false },
      locale: "zh_TW",
      audience: "applicant",
      previewSeq: 0,
      previewTimer: null,
      saving: false
    };
    state.savedSnapshot = snapshot();
    Object.keys(properties()).forEach(function (k) { state.savedKeys[k] = true; });
    bindTitles();
    bindJson();
    renderTable();
    bindPage();
    if (state.canEdit) status(text("clean"));
    requestPreview();
    window.onestopFormEditor = {
      get definition() { return clone(state.def); },
      get revision() { return state.revision; },
      get dirty() { return isDirty(); }
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
