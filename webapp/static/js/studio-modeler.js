// The analyst studio's diagram modeler (templates/studio/modeler.html): a bpmn-js modeler with a
// properties panel for the SpiffWorkflow extension elements the engine reads, saving with
// server-side checks drawn on the diagram, and test runs whose path is drawn on the diagram.
// Every edit goes through bpmn-js commands, so undo/redo work and saveXML sees it.
(function () {
  "use strict";

  var root = document.getElementById("studio");
  if (!root) return;

  var SPIFF = "spiffworkflow:";
  var KNOWN_PROPERTIES = ["formKey", "dueDays", "remindHours", "escalate", "agency", "assignee", "pausesClock"];
  var TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];
  var DEFAULT_FLOW_GATEWAYS = ["bpmn:ExclusiveGateway", "bpmn:InclusiveGateway", "bpmn:ComplexGateway"];

  var data = readJson("studio-data") || {};
  var labels = readJson("studio-labels") || {};
  var urls = data.urls || {};
  var canEdit = root.getAttribute("data-can-edit") === "true";

  var dom = {
    canvas: byId("studio-canvas"),
    panel: byId("studio-panel"),
    panelBody: byId("studio-panel-body"),
    status: byId("studio-status"),
    reload: byId("studio-reload"),
    revision: byId("studio-revision"),
    savedAt: byId("studio-saved-at"),
    formLink: byId("studio-form-link"),
    problems: byId("studio-problems"),
    problemsNone: byId("studio-problems-none"),
    problemsCount: byId("studio-problems-count"),
    testrunSection: byId("studio-testrun-section"),
    testrunOpen: byId("studio-testrun-open"),
    samples: byId("studio-samples"),
    results: byId("studio-testrun")
  };

  var state = {
    revision: data.revision,
    changes: 0,
    savedChanges: 0,
    saving: null,
    selected: null,
    renderedFor: null,
    panelPending: false,
    problems: { check: data.problems || [], run: [] },
    marked: { problems: [], run: [] },
    samplesLoaded: false
  };

  var modeler, moddle, canvas, registry, overlays, selection, commandStack, eventBus;

  // ---------------------------------------------------------------- small helpers

  function byId(id) { return document.getElementById(id); }

  function readJson(id) {
    var node = byId(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function text(key, fallback, params) {
    var value = typeof labels[key] === "string" && labels[key] ? labels[key] : fallback;
    if (value === undefined || value === null) value = key;
    Object.keys(params || {}).forEach(function (name) {
      value = value.split("{" + name + "}").join(String(params[name]));
    });
    return value;
  }

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function is(businessObject, type) {
    return !!businessObject && typeof businessObject.$instanceOf === "function" && businessObject.$instanceOf(type);
  }

  function isAny(businessObject, types) {
    return types.some(function (type) { return is(businessObject, type); });
  }

  function without(list, item) {
    return (list || []).filter(function (each) { return each !== item; });
  }

  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  function displayName(id) {
    var element = registry && registry.get(id);
    var name = element && element.businessObject && element.businessObject.name;
    return (name || id || "").replace(/\s+/g, " ").trim();
  }

  function labelMap(key) {
    return labels[key] && typeof labels[key] === "object" ? labels[key] : {};
  }

  function roleLabel(code) {
    var role = (data.roles || []).filter(function (r) { return r.code === code; })[0];
    return role ? role.label : code;
  }

  function formEditorUrl(key) {
    return (urls.form_editor || "").replace("__KEY__", encodeURIComponent(key));
  }

  function setStatus(message, tone) {
    dom.status.textContent = message || "";
    dom.status.className = "studio__status" + (tone ? " studio__status--" + tone : "");
  }

  /** POST JSON; resolves {status, body} whatever the status, rejects only when the network fails. */
  function postJson(url, payload) {
    return window.onestopPostJson(url, payload).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body || {} };
      });
    });
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  // ---------------------------------------------------------------- moddle: reading extension elements

  function extensions(businessObject) {
    var container = businessObject.extensionElements;
    return (container && container.get("values")) || [];
  }

  function extension(businessObject, type) {
    return extensions(businessObject).filter(function (value) { return is(value, type); })[0];
  }

  function properties(businessObject) {
    var container = extension(businessObject, SPIFF + "Properties");
    return container ? container.get("properties") : [];
  }

  function property(businessObject, name) {
    return properties(businessObject).filter(function (p) { return p.name === name; })[0];
  }

  function propertyValue(businessObject, name) {
    var found = property(businessObject, name);
    return found && found.value !== undefined ? found.value : "";
  }

  function operator(businessObject) {
    return extension(businessObject, SPIFF + "ServiceTaskOperator");
  }

  function parameters(op) {
    var container = op && op.get("parameters");
    return container ? container.get("parameters") : [];
  }

  function eventDefinition(businessObject, type) {
    return (businessObject.get && businessObject.eventDefinitions || []).filter(function (d) { return is(d, type); })[0];
  }

  // ---------------------------------------------------------------- moddle: changes as commands
  // A change is {element, target, props}: set ``props`` on the moddle object ``target`` and redraw
  // ``element``. apply() runs a list of them as one undoable command.

  function change(element, target, props) {
    return { element: element, target: target, props: props };
  }

  function create(type, attrs, parent) {
    var object = moddle.create(type, attrs);
    if (parent) object.$parent = parent;
    return object;
  }

  function adopt(parent, children) {
    children.forEach(function (child) { child.$parent = parent; });
    return parent;
  }

  function apply(changes) {
    changes = changes.filter(Boolean);
    if (!canEdit || !changes.length) return;
    commandStack.execute("studio.changes", { changes: changes });
  }

  /** Runs each change as a bpmn-js command inside one compound command (one undo step). */
  function registerChangesCommand() {
    commandStack.register("studio.changes", {
      preExecute: function (context) {
        context.changes.forEach(function (c) {
          if (c.target === c.element.businessObject) {
            commandStack.execute("element.updateProperties", { element: c.element, properties: c.props });
          } else {
            commandStack.execute("element.updateModdleProperties",
              { element: c.element, moddleElement: c.target, properties: c.props });
          }
        });
      },
      execute: function () { return []; },
      revert: function () { return []; }
    });
  }

  function attachExtension(element, value) {
    var bo = element.businessObject;
    var container = bo.extensionElements;
    if (!container) {
      container = adopt(create("bpmn:ExtensionElements", { values: [value] }, bo), [value]);
      return change(element, bo, { extensionElements: container });
    }
    value.$parent = container;
    return change(element, container, { values: container.get("values").concat(value) });
  }

  function detachExtension(element, value) {
    var container = element.businessObject.extensionElements;
    return change(element, container, { values: without(container.get("values"), value) });
  }

  function setProperty(element, name, value) {
    var bo = element.businessObject;
    var container = extension(bo, SPIFF + "Properties");
    var existing = property(bo, name);
    if (value === "" || value === null || value === undefined) {
      return existing ? change(element, container, { properties: without(container.get("properties"), existing) }) : null;
    }
    if (existing) return change(element, existing, { value: value });
    return addProperty(element, name, value);
  }

  function addProperty(element, name, value) {
    var container = extension(element.businessObject, SPIFF + "Properties");
    var created = create(SPIFF + "Property", { name: name, value: value }, container);
    if (container) return change(element, container, { properties: container.get("properties").concat(created) });
    return attachExtension(element, adopt(create(SPIFF + "Properties", { properties: [created] }), [created]));
  }

  function removeProperty(element, prop) {
    var container = prop.$parent;
    return change(element, container, { properties: without(container.get("properties"), prop) });
  }

  function setScriptExtension(element, type, source) {
    var existing = extension(element.businessObject, type);
    if (!source) return existing ? detachExtension(element, existing) : null;
    if (existing) return change(element, existing, { value: source });
    return attachExtension(element, create(type, { value: source }));
  }

  function setOperator(element, props) {
    var existing = operator(element.businessObject);
    if (existing) return change(element, existing, props);
    var attrs = { id: "", resultVariable: undefined };
    Object.keys(props).forEach(function (key) { attrs[key] = props[key]; });
    var created = create(SPIFF + "ServiceTaskOperator", attrs);
    created.set("parameters", adopt(create(SPIFF + "Parameters", { parameters: [] }, created), []));
    return attachExtension(element, created);
  }

  function addParameter(element, id, value) {
    var op = operator(element.businessObject);
    var created = create(SPIFF + "Parameter", { id: id, type: "str", value: value });
    if (!op) {
      op = create(SPIFF + "ServiceTaskOperator", { id: "" });
      op.set("parameters", adopt(create(SPIFF + "Parameters", { parameters: [created] }, op), [created]));
      return attachExtension(element, op);
    }
    var container = op.get("parameters");
    if (!container) {
      return change(element, op, { parameters: adopt(create(SPIFF + "Parameters", { parameters: [created] }, op), [created]) });
    }
    created.$parent = container;
    return change(element, container, { parameters: container.get("parameters").concat(created) });
  }

  function removeParameter(element, parameter) {
    var container = parameter.$parent;
    return change(element, container, { parameters: without(container.get("parameters"), parameter) });
  }

  function expression(body, parent) {
    return create("bpmn:FormalExpression", { body: body }, parent);
  }

  function messageNamed(name) {
    var definitions = modeler.getDefinitions();
    return (definitions.get("rootElements") || []).filter(function (e) {
      return is(e, "bpmn:Message") && e.name === name;
    })[0];
  }

  function setMessage(element, definition, name) {
    if (!name) return [change(element, definition, { messageRef: undefined })];
    var found = messageNamed(name);
    if (found) return [change(element, definition, { messageRef: found })];
    var definitions = modeler.getDefinitions();
    var created = modeler.get("bpmnFactory").create("bpmn:Message", { name: name });
    created.$parent = definitions;
    return [change(element, definitions, { rootElements: definitions.get("rootElements").concat(created) }),
            change(element, definition, { messageRef: created })];
  }

  // ---------------------------------------------------------------- panel: controls

  var fieldCounter = 0;

  function controlValue(control) {
    return control.type === "checkbox" ? control.checked : control.value;
  }

  /** Calls ``commit(value)`` when the control's value is changed by the user (on change, not per key). */
  function onCommit(control, commit) {
    var last = controlValue(control);
    function run() {
      var value = controlValue(control);
      if (value === last) return;
      last = value;
      commit(typeof value === "string" ? value.trim() === "" ? "" : value : value);
    }
    control.addEventListener("change", run);
    control.studioCommit = run;
    if (!canEdit) control.disabled = true;
    return control;
  }

  function field(key, label, control, help, extra) {
    var id = "studio-field-" + (++fieldCounter);
    control.id = id;
    control.setAttribute("data-key", key);
    var helpNode = null;
    if (help) {
      helpNode = h("p", { className: "field__help", id: id + "-help", text: help });
      control.setAttribute("aria-describedby", id + "-help");
    }
    var labelNode = h("label", { className: "field__label", for: id, text: label });
    return h("div", { className: "field studio-field" }, [labelNode, control, helpNode].concat(extra || []));
  }

  function textInput(value, commit, attrs) {
    var input = h("input", Object.assign({ type: "text", className: "input", autocomplete: "off", spellcheck: "false" }, attrs || {}));
    input.value = value || "";
    return onCommit(input, commit);
  }

  function textArea(value, commit, rows) {
    var area = h("textarea", { className: "input studio-code", rows: String(rows || 4), spellcheck: "false" });
    area.value = value || "";
    return onCommit(area, commit);
  }

  function select(options, value, commit) {
    var node = h("select", { className: "input" }, options.map(function (o) {
      return h("option", { value: o.value, text: o.label });
    }));
    node.value = value;
    return onCommit(node, commit);
  }

  function checkbox(key, label, checked, commit, help) {
    var id = "studio-field-" + (++fieldCounter);
    var box = onCommit(h("input", { type: "checkbox", id: id, "data-key": key, checked: checked }), commit);
    box.checked = !!checked;
    var helpNode = help ? h("p", { className: "field__help", id: id + "-help", text: help }) : null;
    if (helpNode) box.setAttribute("aria-describedby", id + "-help");
    return h("div", { className: "field studio-field studio-check" }, [box, h("label", { for: id, text: label }), helpNode]);
  }

  function optionsWith(list, current, unknownLabel) {
    var options = [{ value: "", label: text("unset", "（未指定）") }].concat(list);
    var known = list.some(function (o) { return o.value === current; });
    if (current && !known) options.push({ value: current, label: current + "（" + unknownLabel + "）" });
    return options;
  }

  function removeButton(key, name, onClick) {
    var button = h("button", {
      type: "button", className: "btn btn--link studio-remove", "data-key": key,
      "aria-label": text("removeNamed", "移除 {name}", { name: name }), text: text("remove", "移除")
    });
    button.addEventListener("click", onClick);
    if (!canEdit) button.hidden = true;
    return button;
  }

  function group(title, children) {
    return h("fieldset", { className: "studio-group" }, [h("legend", { text: title })].concat(children));
  }

  // ---------------------------------------------------------------- panel: sections by element type

  function commonFields(element) {
    var bo = element.businessObject;
    var nodes = [h("p", { className: "studio-kind", text: labelMap("types")[bo.$type] || bo.$type.replace("bpmn:", "") }),
                 field("id", text("id", "ID"), h("input", { type: "text", className: "input", readonly: true, value: bo.id }))];
    if (is(bo, "bpmn:Lane")) nodes.push(roleField(element));
    else if (bo.$descriptor.propertiesByName.name) {
      nodes.push(field("name", text("name", "名稱"), textInput(bo.name, function (value) {
        apply([change(element, bo, { name: value || undefined })]);
      })));
    }
    return nodes;
  }

  function roleField(element) {
    var bo = element.businessObject;
    var roles = (data.roles || []).map(function (r) { return { value: r.code, label: r.label + "（" + r.code + "）" }; });
    var control = select(optionsWith(roles, bo.name || "", text("unknownRole", "未知角色")), bo.name || "", function (value) {
      apply([change(element, bo, { name: value || undefined })]);
    });
    return field("role", text("role", "角色"), control);
  }

  function userTaskFields(element) {
    var bo = element.businessObject;
    var formKey = propertyValue(bo, "formKey");
    var forms = (data.forms || []).map(function (f) { return { value: f.key, label: f.title + "（" + f.key + "）" }; });
    var formLink = formKey ? h("a", { href: formEditorUrl(formKey), target: "_blank", rel: "noopener", className: "studio-link" },
      [text("editForm", "編輯表單"), h("span", { className: "visually-hidden", text: text("newTab", "（另開分頁）") })]) : null;
    var set = function (name) { return function (value) { apply([setProperty(element, name, value)]); }; };
    var escalate = propertyValue(bo, "escalate");
    var escalateOptions = [{ value: "", label: text("escalateNone", "無") },
                           { value: "supervisor", label: text("escalateSupervisor", "通報主管（supervisor）") }];
    if (escalate && escalate !== "supervisor") escalateOptions.push({ value: escalate, label: escalate });
    return [
      field("formKey", text("form", "表單"), select(optionsWith(forms, formKey, text("unknownForm", "未知表單")), formKey, set("formKey")),
            null, formLink ? [formLink] : []),
      canEdit ? newFormControl(element) : null,
      h("div", { className: "studio-pair" }, [
        field("dueDays", text("dueDays", "處理期限（工作天）"), textInput(propertyValue(bo, "dueDays"), set("dueDays"), { inputmode: "numeric" })),
        field("remindHours", text("remindHours", "到期前提醒（小時）"), textInput(propertyValue(bo, "remindHours"), set("remindHours"), { inputmode: "numeric" }))
      ]),
      field("escalate", text("escalate", "逾期通報"), select(escalateOptions, escalate, set("escalate"))),
      field("agency", text("agency", "承辦機關"), textInput(propertyValue(bo, "agency"), set("agency"), { className: "input studio-code" }),
            text("agencyHelp", "")),
      field("assignee", text("assignee", "指定承辦人"), textInput(propertyValue(bo, "assignee"), set("assignee"), { className: "input studio-code" }),
            text("assigneeHelp", "")),
      checkbox("pausesClock", text("pausesClock", "暫停法定期限"), propertyValue(bo, "pausesClock") === "true", function (checked) {
        apply([setProperty(element, "pausesClock", checked ? "true" : "")]);
      }, text("pausesClockHelp", "")),
      otherPropertiesGroup(element)
    ];
  }

  /** A form that does not exist yet: name it, point the task at it and open the editor to write it. */
  function newFormControl(element) {
    var id = "studio-field-" + (++fieldCounter);
    var input = h("input", { type: "text", id: id, className: "input studio-code", autocomplete: "off",
                             spellcheck: "false", placeholder: "lvp_note", "data-key": "new-form" });
    var error = h("p", { className: "field__error", id: id + "-error", hidden: true });
    var button = h("button", { type: "button", className: "btn btn--secondary", text: text("newForm", "建立新表單") });
    button.addEventListener("click", function () {
      var key = input.value.trim();
      if (!/^[a-z0-9][a-z0-9_]*$/.test(key)) {
        error.textContent = text("newFormInvalid", "表單代碼只能用小寫英文字母、數字與底線");
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", id + "-error");
        return;
      }
      apply([setProperty(element, "formKey", key)]);
      window.open(formEditorUrl(key), "_blank", "noopener");
    });
    return h("div", { className: "field studio-field" }, [
      h("label", { className: "field__label", for: id, text: text("newFormKey", "或建立新表單（表單代碼）") }),
      h("div", { className: "studio-row" }, [input, button]), error]);
  }

  function otherPropertiesGroup(element) {
    var others = properties(element.businessObject).filter(function (p) { return KNOWN_PROPERTIES.indexOf(p.name) === -1; });
    var rows = others.map(function (prop, index) {
      return h("div", { className: "studio-row" }, [
        field("other-name-" + index, text("propertyName", "屬性名稱"), textInput(prop.name, function (value) {
          apply([value ? change(element, prop, { name: value }) : removeProperty(element, prop)]);
        }, { className: "input studio-code" })),
        field("other-value-" + index, text("propertyValue", "值"), textInput(prop.value, function (value) {
          apply([change(element, prop, { value: value })]);
        }, { className: "input studio-code" })),
        removeButton("other-remove-" + index, prop.name, function () { apply([removeProperty(element, prop)]); })
      ]);
    });
    var adder = addRow("other", text("propertyName", "屬性名稱"), text("propertyValue", "值"), function (name, value) {
      apply([property(element.businessObject, name) ? setProperty(element, name, value) : addProperty(element, name, value)]);
    });
    return group(text("otherProperties", "其他屬性"), rows.concat(adder ? [adder] : []));
  }

  /** An explicit "name, value, 新增" row: nothing half-made is written until both are given. */
  function addRow(key, nameLabel, valueLabel, add) {
    if (!canEdit) return null;
    var nameInput = h("input", { type: "text", className: "input studio-code", autocomplete: "off", spellcheck: "false" });
    var valueInput = h("input", { type: "text", className: "input studio-code", autocomplete: "off", spellcheck: "false" });
    var button = h("button", { type: "button", className: "btn btn--secondary studio-add", "data-key": key + "-add", text: text("add", "新增") });
    function submit() {
      var name = nameInput.value.trim();
      var value = valueInput.value;
      if (!name) { nameInput.focus(); return; }
      nameInput.value = valueInput.value = "";
      add(name, value);
    }
    button.addEventListener("click", submit);
    [nameInput, valueInput].forEach(function (input) {
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); submit(); }
      });
    });
    return h("div", { className: "studio-row studio-row--add" }, [
      field(key + "-new-name", nameLabel, nameInput), field(key + "-new-value", valueLabel, valueInput), button
    ]);
  }

  function taskScriptFields(element) {
    var set = function (type) { return function (value) { apply([setScriptExtension(element, SPIFF + type, value)]); }; };
    var bo = element.businessObject;
    var pre = extension(bo, SPIFF + "PreScript");
    var post = extension(bo, SPIFF + "PostScript");
    return [
      field("preScript", text("preScript", "前置腳本"), textArea(pre && pre.value, set("PreScript"), 3)),
      field("postScript", text("postScript", "後置腳本"), textArea(post && post.value, set("PostScript"), 3), text("scriptHelp", ""))
    ];
  }

  function serviceTaskFields(element) {
    var op = operator(element.businessObject);
    var handlerId = op ? op.id || "" : "";
    var handlers = (data.handlers || []).map(function (handler) { return { value: handler.name, label: handler.name }; });
    var rows = parameters(op).map(function (parameter, index) {
      return h("div", { className: "studio-row" }, [
        field("param-id-" + index, text("parameterName", "參數名稱"), textInput(parameter.id, function (value) {
          apply([value ? change(element, parameter, { id: value }) : removeParameter(element, parameter)]);
        }, { className: "input studio-code" })),
        field("param-value-" + index, text("parameterValue", "運算式"), textInput(parameter.value, function (value) {
          apply([change(element, parameter, { value: value })]);
        }, { className: "input studio-code" })),
        removeButton("param-remove-" + index, parameter.id, function () { apply([removeParameter(element, parameter)]); })
      ]);
    });
    if (!rows.length) rows.push(h("p", { className: "muted", text: text("noParameters", "沒有參數。") }));
    var adder = addRow("param", text("parameterName", "參數名稱"), text("parameterValue", "運算式"), function (id, value) {
      apply([addParameter(element, id, value)]);
    });
    return [
      field("handler", text("handler", "處理程式"),
            select(optionsWith(handlers, handlerId, text("unknownHandler", "未登記的處理程式")), handlerId, function (value) {
              apply([setOperator(element, { id: value })]);
            })),
      field("resultVariable", text("resultVariable", "結果變數"), textInput(op && op.resultVariable, function (value) {
        apply([setOperator(element, { resultVariable: value || undefined })]);
      }, { className: "input studio-code" })),
      group(text("parameters", "參數"), rows.concat(adder ? [adder] : []))
    ];
  }

  function scriptTaskFields(element) {
    var bo = element.businessObject;
    return [field("script", text("script", "腳本"), textArea(bo.script, function (value) {
      apply([change(element, bo, { script: value || undefined })]);
    }, 10))];
  }

  function sequenceFlowFields(element) {
    var bo = element.businessObject;
    var source = element.source;
    if (!source || !isAny(source.businessObject, DEFAULT_FLOW_GATEWAYS)) return [];
    var isDefault = source.businessObject.default === bo;
    var condition = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
    var area = textArea(condition, function (value) {
      apply([change(element, bo, { conditionExpression: value ? expression(value, bo) : undefined })]);
    }, 3);
    if (isDefault) area.disabled = true;
    return [
      field("condition", text("condition", "條件"), area, text("conditionHelp", "")),
      checkbox("default", text("isDefault", "閘道的預設路徑"), isDefault, function (checked) {
        var changes = [change(source, source.businessObject, { "default": checked ? bo : undefined })];
        if (checked && bo.conditionExpression) changes.push(change(element, bo, { conditionExpression: undefined }));
        apply(changes);
      }, text("defaultHelp", ""))
    ];
  }

  function timerFields(element, definition) {
    var kind = TIMER_KINDS.filter(function (k) { return definition.get(k); })[0] || "timeDuration";
    var current = definition.get(kind);
    var body = current ? current.body || "" : "";
    function props(newKind, newBody) {
      var values = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      values[newKind] = expression(newBody, definition);
      return values;
    }
    var kinds = TIMER_KINDS.map(function (k) { return { value: k, label: text(k, k) }; });
    return [
      field("timerType", text("timerType", "類型"), select(kinds, kind, function (value) {
        apply([change(element, definition, props(value, body))]);
      })),
      field("timerExpression", text("timerExpression", "運算式"), textInput(body, function (value) {
        apply([change(element, definition, props(kind, value))]);
      }, { className: "input studio-code" }), text("timerHelp", ""))
    ];
  }

  function messageFields(element, definition) {
    var listId = "studio-messages-" + (++fieldCounter);
    var names = (data.messages || []).slice();
    var current = definition.messageRef ? definition.messageRef.name || "" : "";
    var input = textInput(current, function (value) { apply(setMessage(element, definition, value)); }, { list: listId });
    var datalist = h("datalist", { id: listId }, names.map(function (name) { return h("option", { value: name }); }));
    return [field("message", text("messageName", "訊息名稱"), input, text("messageHelp", ""), [datalist])];
  }

  function sections(element) {
    var bo = element.businessObject;
    var nodes = commonFields(element);
    if (is(bo, "bpmn:UserTask")) nodes = nodes.concat(userTaskFields(element));
    if (is(bo, "bpmn:ServiceTask")) nodes = nodes.concat(serviceTaskFields(element));
    if (is(bo, "bpmn:ScriptTask")) nodes = nodes.concat(scriptTaskFields(element));
    if (is(bo, "bpmn:Task")) nodes = nodes.concat(taskScriptFields(element));
    if (is(bo, "bpmn:SequenceFlow")) nodes = nodes.concat(sequenceFlowFields(element));
    if (is(bo, "bpmn:Event")) {
      var timer = eventDefinition(bo, "bpmn:TimerEventDefinition");
      var message = eventDefinition(bo, "bpmn:MessageEventDefinition");
      if (timer) nodes = nodes.concat(timerFields(element, timer));
      if (message) nodes = nodes.concat(messageFields(element, message));
    }
    return nodes.filter(Boolean);
  }

  // ---------------------------------------------------------------- panel: rendering

  function renderPanel() {
    state.panelPending = false;
    var element = state.selected;
    var sameElement = element && state.renderedFor === element;
    var active = document.activeElement;
    var focusKey = sameElement && dom.panelBody.contains(active) ? active.getAttribute("data-key") : null;
    var scroll = dom.panel.scrollTop;
    var drafts = sameElement ? unsavedRows() : {};
    dom.panelBody.textContent = "";
    if (element && !registry.get(element.id)) element = state.selected = null;
    var nodes = element ? sections(element) : [h("p", { className: "muted", text: text("noSelection", "") })];
    nodes.forEach(function (node) { dom.panelBody.appendChild(node); });
    state.renderedFor = element;
    restoreRows(drafts);
    if (sameElement) dom.panel.scrollTop = scroll;
    if (focusKey) {
      var target = dom.panelBody.querySelector('[data-key="' + focusKey.replace(/"/g, '\\"') + '"]');
      if (target) target.focus();
    }
    updateFormLink(element);
  }

  /** What is typed in the "新增" rows, which a redraw of the panel must not lose. */
  function unsavedRows() {
    var values = {};
    Array.prototype.forEach.call(dom.panelBody.querySelectorAll(".studio-row--add input[data-key]"), function (input) {
      if (input.value) values[input.getAttribute("data-key")] = input.value;
    });
    return values;
  }

  function restoreRows(values) {
    Object.keys(values).forEach(function (key) {
      var input = dom.panelBody.querySelector('.studio-row--add input[data-key="' + key + '"]');
      if (input) input.value = values[key];
    });
  }

  function schedulePanel() {
    if (state.panelPending) return;
    state.panelPending = true;
    setTimeout(renderPanel, 0);
  }

  function showSelection(elements) {
    if (elements.length > 1) {
      state.selected = null;
      state.renderedFor = null;
      dom.panelBody.textContent = "";
      dom.panelBody.appendChild(h("p", { className: "muted", text: text("multiSelection", "", { count: elements.length }) }));
      updateFormLink(null);
      return;
    }
    var element = elements[0] || null;
    state.selected = element && element.labelTarget ? element.labelTarget : element;
    renderPanel();
  }

  function updateFormLink(element) {
    var key = element && is(element.businessObject, "bpmn:UserTask") ? propertyValue(element.businessObject, "formKey") : "";
    dom.formLink.hidden = !key;
    if (key) dom.formLink.href = formEditorUrl(key);
  }

  /** Commits the panel control being edited, so Ctrl+S or 試跑 never miss the last keystrokes. */
  function flushPanel() {
    var active = document.activeElement;
    if (active && dom.panelBody.contains(active) && active.studioCommit) active.studioCommit();
  }

  // ---------------------------------------------------------------- problems on the diagram and in lists

  function clearMarkers(ids, marker) {
    ids.forEach(function (id) { if (registry.get(id)) canvas.removeMarker(id, marker); });
  }

  function drawProblemMarkers() {
    if (!canvas) return;
    clearMarkers(state.marked.problems, "studio-problem");
    overlays.remove({ type: "studio-problem" });
    var counts = {};
    state.problems.check.concat(state.problems.run).forEach(function (p) {
      if (p.element && registry.get(p.element)) counts[p.element] = (counts[p.element] || 0) + 1;
    });
    state.marked.problems = Object.keys(counts);
    state.marked.problems.forEach(function (id) {
      canvas.addMarker(id, "studio-problem");
      var label = text("problemBadge", "{count} 個問題", { count: counts[id] });
      overlays.add(id, "studio-problem", {
        position: { top: -10, right: 10 },
        html: h("span", { className: "studio-badge", title: label, "aria-label": label, text: String(counts[id]) })
      });
    });
  }

  function problemItem(problem) {
    var id = problem.element || "";
    var item = h("li", { "data-element": id });
    if (id && registry && registry.get(id)) {
      var button = h("button", { type: "button", className: "studio-problem-link" }, [
        h("strong", { text: displayName(id) }), h("span", { text: problem.message })
      ]);
      button.addEventListener("click", function () { focusElement(id); });
      item.appendChild(button);
    } else {
      var where = !id ? text("problemGeneral", "整個流程") : registry ? text("problemMissing", "{element}", { element: id }) : id;
      item.className = "studio-problem-general";
      item.appendChild(h("strong", { text: where }));
      item.appendChild(h("span", { text: problem.message }));
    }
    return item;
  }

  function fillProblemList(list, problems) {
    list.textContent = "";
    problems.filter(function (p) { return !p.element; })
      .concat(problems.filter(function (p) { return p.element; }))
      .forEach(function (p) { list.appendChild(problemItem(p)); });
  }

  function showCheckProblems(problems) {
    state.problems.check = problems || [];
    fillProblemList(dom.problems, state.problems.check);
    var count = state.problems.check.length;
    dom.problems.hidden = !count;
    dom.problemsNone.hidden = !!count;
    dom.problemsCount.textContent = count ? String(count) : "";
    dom.problemsCount.className = count ? "badge badge--late" : "badge";
    dom.problemsCount.hidden = !count;
    drawProblemMarkers();
  }

  /** Buttons the template renders (the import report) that point at an element on the diagram. */
  function bindElementLinks() {
    Array.prototype.forEach.call(root.querySelectorAll("[data-focus-element]"), function (button) {
      var id = button.getAttribute("data-focus-element");
      var title = button.querySelector("strong");
      if (!registry.get(id)) {
        button.disabled = true;
        return;
      }
      if (title) title.textContent = displayName(id);
      button.addEventListener("click", function () { focusElement(id); });
    });
  }

  function focusElement(id) {
    var element = registry.get(id);
    if (!element) return;
    selection.select(element);
    canvas.scrollToElement(element, { top: 120, bottom: 120, left: 160, right: 160 });
  }

  // ---------------------------------------------------------------- saving

  function markDirty(event) {
    if (event && event.trigger === "clear") return;
    var wasClean = !isDirty();
    state.changes += 1;
    if (wasClean) setStatus(text("dirty", "有尚未儲存的修改"), "dirty");
  }

  function isDirty() {
    return canEdit && state.changes !== state.savedChanges;
  }

  function save() {
    if (!canEdit) return Promise.resolve(false);
    if (state.saving) return state.saving;
    flushPanel();
    var changesAtStart = state.changes;
    setStatus(text("saving", "儲存中…"), "busy");
    dom.reload.hidden = true;
    state.saving = modeler.saveXML({ format: true })
      .then(function (result) { return postJson(urls.save, { bpmn: result.xml, revision: state.revision }); })
      .then(function (response) { return afterSave(response, changesAtStart); })
      .catch(function () {
        setStatus(text("saveFailed", "儲存失敗，請稍後再試。"), "error");
        return false;
      })
      .then(function (ok) {
        state.saving = null;
        return ok;
      });
    return state.saving;
  }

  function afterSave(response, changesAtStart) {
    var body = response.body;
    if (response.status === 200) {
      state.revision = body.revision;
      state.savedChanges = changesAtStart;
      dom.revision.textContent = String(body.revision);
      if (body.saved_at) dom.savedAt.textContent = body.saved_at;
      var problems = body.problems || [];
      setStatus(problems.length
        ? text("savedWithProblems", "已儲存（{time}），發現 {count} 個問題", { time: body.saved_at || "", count: problems.length })
        : text("saved", "已儲存（{time}）", { time: body.saved_at || "" }), problems.length ? "warning" : "ok");
      showCheckProblems(problems);
      return true;
    }
    var message = body.message || text("saveFailed", "儲存失敗，請稍後再試。");
    if (response.status === 409) {
      setStatus(message + " " + text("conflictHint", ""), "error");
      dom.reload.hidden = false;
    } else {
      setStatus(message, "error");
    }
    return false;
  }

  function reloadLatest() {
    state.savedChanges = state.changes;
    window.location.reload();
  }

  function download() {
    flushPanel();
    modeler.saveXML({ format: true }).then(function (result) {
      var blob = new Blob([result.xml], { type: "application/xml" });
      var link = h("a", { href: URL.createObjectURL(blob), download: (root.getAttribute("data-service-key") || "diagram") + "-r" + state.revision + ".bpmn" });
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
    });
  }

  // ---------------------------------------------------------------- test run: inputs

  function diagramOrder(type) {
    return registry.filter(function (e) { return is(e.businessObject, type) && !e.labelTarget; })
      .sort(function (a, b) { return (a.x - b.x) || (a.y - b.y); })
      .map(function (e) { return e.id; });
  }

  function jsonField(kind, id, value, label) {
    var fieldId = "studio-sample-" + kind + "-" + id;
    var source = value === undefined ? "" : pretty(value);
    var area = h("textarea", { id: fieldId, className: "input studio-code studio-json", "data-kind": kind, "data-element": id,
                               spellcheck: "false", rows: String(Math.min(8, Math.max(2, source.split("\n").length))) });
    area.value = source;
    var error = h("p", { className: "field__error", id: fieldId + "-error", hidden: true });
    return h("div", { className: "field studio-field" }, [
      h("label", { className: "field__label", for: fieldId }, label ? [label] : [displayName(id) + " ", h("code", { text: id })]),
      area, error
    ]);
  }

  function sampleGroup(kind, legend, ids, values, empty) {
    Object.keys(values || {}).forEach(function (id) { if (ids.indexOf(id) === -1) ids.push(id); });
    var children = ids.map(function (id) { return jsonField(kind, id, (values || {})[id]); });
    if (!children.length) children.push(h("p", { className: "muted", text: empty }));
    return group(legend, children);
  }

  function renderSamples(samples) {
    dom.samples.textContent = "";
    if (samples.application !== undefined) {
      dom.samples.appendChild(group(text("applicationLegend", "申請資料（JSON）"), [
        jsonField("application", "application", samples.application, text("applicationLabel", "申請人送出的申請書"))
      ]));
    }
    dom.samples.appendChild(sampleGroup("answers", text("answersLegend", "使用者工作的回答（JSON）"),
      diagramOrder("bpmn:UserTask"), samples.answers, text("noUserTasks", "")));
    dom.samples.appendChild(sampleGroup("service_results", text("resultsLegend", "服務工作的結果（JSON）"),
      diagramOrder("bpmn:ServiceTask"), samples.service_results, text("noServiceTasks", "")));
  }

  function loadSamples() {
    dom.samples.textContent = "";
    dom.samples.appendChild(h("p", { className: "muted", text: text("loadingSamples", "載入試跑資料中…") }));
    return getJson(urls.samples)
      .then(function (samples) { renderSamples(samples || {}); })
      .catch(function () {
        renderSamples({});
        dom.samples.insertBefore(h("p", { className: "field__error", text: text("samplesFailed", "") }), dom.samples.firstChild);
      })
      .then(function () { state.samplesLoaded = true; });
  }

  function openTestRun() {
    dom.testrunSection.hidden = false;
    dom.testrunOpen.setAttribute("aria-expanded", "true");
    var ready = state.samplesLoaded ? Promise.resolve() : saveIfDirty().then(loadSamples);
    ready.then(function () {
      dom.testrunSection.scrollIntoView({ behavior: "smooth", block: "start" });
      byId("studio-testrun-title").focus({ preventScroll: true });
    });
  }

  /** The inputs as {answers, service_results}, or null after marking every textarea that is not JSON. */
  function collectInputs() {
    var inputs = { answers: {}, service_results: {} };
    var firstBad = null;
    Array.prototype.forEach.call(dom.samples.querySelectorAll("textarea[data-kind]"), function (area) {
      var error = byId(area.id + "-error");
      error.hidden = true;
      area.removeAttribute("aria-invalid");
      area.parentNode.classList.remove("field--error");
      if (!area.value.trim()) return;
      try {
        var value = JSON.parse(area.value);
        var kind = area.getAttribute("data-kind");
        if (kind === "application") inputs.application = value;
        else inputs[kind][area.getAttribute("data-element")] = value;
      } catch (e) {
        error.textContent = text("invalidJson", "JSON 格式錯誤：{detail}", { detail: e.message });
        error.hidden = false;
        area.setAttribute("aria-invalid", "true");
        area.setAttribute("aria-describedby", error.id);
        area.parentNode.classList.add("field--error");
        firstBad = firstBad || area;
      }
    });
    if (firstBad) {
      firstBad.focus();
      return null;
    }
    return inputs;
  }

  /** Test runs and their samples use the saved draft, so unsaved edits are saved first. */
  function saveIfDirty() {
    flushPanel();
    if (!isDirty()) return Promise.resolve(true);
    setStatus(text("savingBeforeRun", "先儲存草稿再試跑…"), "busy");
    return save();
  }

  function runTest() {
    var inputs = collectInputs();
    if (!inputs) {
      setStatus(text("fixJson", "有試跑資料的 JSON 格式錯誤。"), "error");
      return Promise.resolve(false);
    }
    var button = byId("studio-run");
    button.disabled = true;
    return saveIfDirty().then(function (ok) {
      if (!ok) return false;
      setStatus(text("running", "試跑中…"), "busy");
      dom.results.setAttribute("aria-busy", "true");
      return postJson(urls.test_run, inputs)
        .catch(function () { return { status: 0, body: {} }; })
        .then(function (response) {
          dom.results.removeAttribute("aria-busy");
          if (response.status === 200) {
            showRun(response.body);
            return true;
          }
          setStatus(response.body.message || text("runFailed", "試跑失敗，請稍後再試。"), "error");
          return false;
        });
    }).then(function (ran) {
      button.disabled = false;
      return ran;
    });
  }

  // ---------------------------------------------------------------- test run: results

  function showRun(run) {
    markPath(run);
    state.problems.run = run.problems || [];
    drawProblemMarkers();
    dom.results.textContent = "";
    dom.results.setAttribute("data-outcome", run.outcome || "");
    [outcomeLine(run), stepsList(run.steps || []), timersTable(run.timers || []), runProblems(state.problems.run)]
      .forEach(function (node) { if (node) dom.results.appendChild(node); });
    setStatus(text("runDone", "試跑完成：{outcome}", { outcome: run.outcome_label || run.outcome }),
      run.outcome === "completed" ? "ok" : "warning");
  }

  var OUTCOME_BADGES = { completed: "badge--approved", stuck: "badge--soon", runaway: "badge--late", failed: "badge--late" };

  function outcomeLine(run) {
    var parts = [h("span", { className: "badge studio-outcome " + (OUTCOME_BADGES[run.outcome] || ""), text: run.outcome_label || run.outcome })];
    if (run.end_event) parts.push(h("span", { className: "muted", text: text("endEvent", "結束於") + "：" + displayName(run.end_event) }));
    return h("p", { className: "studio-outcome-line" }, parts);
  }

  function detailsBlock(label, value) {
    if (value === null || value === undefined) return null;
    return h("details", { className: "studio-details" }, [h("summary", { text: label }), h("pre", { text: pretty(value) })]);
  }

  function stepsList(steps) {
    var heading = h("h3", { text: text("steps", "經過的步驟") });
    if (!steps.length) return h("div", null, [heading, h("p", { className: "muted", text: text("noSteps", "") })]);
    var list = h("ol", { className: "studio-steps" }, steps.map(function (step) {
      var title = step.name || displayName(step.element) || step.element;
      var name = registry.get(step.element)
        ? h("button", { type: "button", className: "btn--link studio-step-name", text: title })
        : h("strong", { text: title });
      if (name.tagName === "BUTTON") name.addEventListener("click", function () { focusElement(step.element); });
      var meta = [labelMap("kinds")[step.kind] || step.kind, step.lane ? roleLabel(step.lane) : null,
                  step.instance !== null && step.instance !== undefined ? text("instance", "第 {number} 筆", { number: typeof step.instance === "number" ? step.instance + 1 : step.instance }) : null]
        .filter(Boolean).join(" · ");
      return h("li", { "data-element": step.element }, [
        name, meta ? h("span", { className: "muted studio-step-meta", text: meta }) : null,
        detailsBlock(text("answers", "回答"), step.answers), detailsBlock(text("params", "參數"), step.params),
        detailsBlock(text("result", "結果"), step.result), detailsBlock(text("data", "流程資料"), step.data)
      ]);
    }));
    return h("div", null, [heading, list]);
  }

  function taipeiTime(value) {
    if (!value || !/(Z|[+-]\d\d:?\d\d)$/.test(value)) return value ? String(value).replace("T", " ") : "";
    var date = new Date(value);
    if (isNaN(date.getTime())) return value;
    var parts = {};
    new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Taipei", year: "numeric", month: "2-digit", day: "2-digit",
                                       hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(date).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute;
  }

  function timersTable(timers) {
    if (!timers.length) return null;
    var head = h("tr", null, [text("timerElement", "元素"), text("timerExpression", "運算式"),
                              text("timerFiresAt", "觸發時間"), text("timerAttachedTo", "附掛於")]
      .map(function (label) { return h("th", { scope: "col", text: label }); }));
    var rows = timers.map(function (timer) {
      return h("tr", { "data-element": timer.element }, [
        h("td", { text: timer.name || displayName(timer.element) }), h("td", null, [h("code", { text: timer.expression || "" })]),
        h("td", { text: taipeiTime(timer.fires_at) }), h("td", { text: timer.attached_to ? displayName(timer.attached_to) : "—" })
      ]);
    });
    return h("table", { className: "table studio-timers" }, [
      h("caption", { text: text("timers", "計時器") }), h("thead", null, [head]), h("tbody", null, rows)
    ]);
  }

  function runProblems(problems) {
    if (!problems.length) return null;
    var list = h("ul", { className: "studio__problems", id: "studio-run-problems" });
    fillProblemList(list, problems);
    return h("div", null, [h("h3", { text: text("runProblems", "試跑發現的問題") }), list]);
  }

  function markPath(run) {
    clearMarkers(state.marked.run, "studio-visited");
    clearMarkers(state.marked.run, "studio-taken");
    var ids = (run.path || []).concat((run.steps || []).map(function (s) { return s.element; }));
    if (run.end_event) ids.push(run.end_event);
    var marked = {};
    ids.forEach(function (id) {
      var element = registry.get(id);
      if (!element || marked[id]) return;
      marked[id] = true;
      canvas.addMarker(id, element.waypoints ? "studio-taken" : "studio-visited");
    });
    takenFlows(run.path || []).forEach(function (id) {
      if (marked[id]) return;
      marked[id] = true;
      canvas.addMarker(id, "studio-taken");
    });
    state.marked.run = Object.keys(marked);
  }

  /** Sequence flows joining consecutive elements of the path. */
  function takenFlows(path) {
    var flows = [];
    for (var i = 0; i + 1 < path.length; i++) {
      var from = registry.get(path[i]);
      (from && from.outgoing || []).forEach(function (flow) {
        if (flow.target && flow.target.id === path[i + 1]) flows.push(flow.id);
      });
    }
    return flows;
  }

  // ---------------------------------------------------------------- start

  /** Fits the whole diagram into the canvas, leaving the palette's strip on the left free. */
  function fit() {
    canvas.resized();
    canvas.zoom("fit-viewport", "auto");
    var box = canvas.viewbox();
    var inner = box.inner, outer = box.outer;
    if (!inner.width || !inner.height) return;
    var palette = dom.canvas.querySelector(".djs-palette");
    var margin = 24;
    var left = palette ? palette.getBoundingClientRect().right - dom.canvas.getBoundingClientRect().left + margin : margin;
    var scale = Math.min((outer.width - left - margin) / inner.width, (outer.height - 2 * margin) / inner.height, 1);
    canvas.viewbox({
      x: inner.x - left / scale,
      y: inner.y - (outer.height / scale - inner.height) / 2,
      width: outer.width / scale,
      height: outer.height / scale
    });
  }

  function bindToolbar() {
    var on = function (id, handler) {
      var node = byId(id);
      if (node) node.addEventListener("click", handler);
    };
    on("studio-save", save);
    on("studio-undo", function () { commandStack.undo(); });
    on("studio-redo", function () { commandStack.redo(); });
    on("studio-download", download);
    on("studio-fit", fit);
    on("studio-testrun-open", openTestRun);
    on("studio-run", runTest);
    on("studio-samples-reset", loadSamples);
    dom.reload.addEventListener("click", reloadLatest);
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "s" || event.key === "S")) {
        event.preventDefault();
        save();
      }
    }, true);
    window.addEventListener("beforeunload", function (event) {
      if (!isDirty()) return undefined;
      event.preventDefault();
      event.returnValue = text("confirmLeave", "");
      return event.returnValue;
    });
  }

  function bindModeler() {
    eventBus.on("selection.changed", function (event) { showSelection(event.newSelection || []); });
    eventBus.on("elements.changed", function (event) {
      if (state.selected && event.elements.indexOf(state.selected) !== -1) schedulePanel();
      else if (state.selected && !registry.get(state.selected.id)) schedulePanel();
    });
    if (canEdit) {
      registerChangesCommand();
      eventBus.on("commandStack.changed", markDirty);
    }
  }

  function fail() {
    showCheckProblems(state.problems.check);
    dom.canvas.textContent = "";
    dom.canvas.appendChild(h("p", { className: "studio__message field__error", text: text("loadFailed", "流程圖無法載入。") }));
  }

  function start(descriptor, xml) {
    dom.canvas.textContent = "";
    modeler = new BpmnJS({ container: dom.canvas, moddleExtensions: { spiffworkflow: descriptor } });
    window.onestopStudio.modeler = modeler;
    moddle = modeler.get("moddle");
    canvas = modeler.get("canvas");
    registry = modeler.get("elementRegistry");
    overlays = modeler.get("overlays");
    selection = modeler.get("selection");
    eventBus = modeler.get("eventBus");
    if (canEdit) commandStack = modeler.get("commandStack");
    bindModeler();
    return modeler.importXML(xml).then(function () {
      fit();
      showCheckProblems(state.problems.check);
      bindElementLinks();
    });
  }

  function boot() {
    window.onestopStudio = { save: save };
    bindToolbar();
    if (typeof BpmnJS === "undefined" || !window.fetch) return fail();
    var descriptor = getJson(root.getAttribute("data-moddle-src"));
    var xml = fetch(urls.diagram, { credentials: "same-origin", headers: { Accept: "application/xml" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      });
    var ready = Promise.all([descriptor, xml])
      .then(function (loaded) { return start(loaded[0], loaded[1]); })
      .then(function () { root.setAttribute("data-ready", "true"); })
      .catch(function (error) {
        fail();
        if (window.console) console.error(error);
      });
    window.onestopStudio.ready = ready;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
