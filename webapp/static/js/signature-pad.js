// Counter e-signature in the browser. On the citizen's phone, [data-signature-pad] is a canvas
// drawn on with pointer events (finger, pen or mouse); the form sends it as a PNG data URL.
// On the clerk's screen, [data-signature-status] polls the request's status every 2 seconds and
// shows the signature once it arrives. [data-countdown] elements count their seconds down.
(function () {
  "use strict";

  var POLL_MS = 2000;
  var LINE_WIDTH = 2.6;
  var INK = "#111";
  var EXPORT_MAX_WIDTH = 1000;

  // ------------------------------------------------------------ countdown

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var rest = s % 60;
    return Math.floor(s / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function countdown(element, onZero) {
    var deadline = Date.now() + Number(element.getAttribute("data-countdown") || 0) * 1000;
    var timer = null;
    function tick() {
      var left = (deadline - Date.now()) / 1000;
      element.textContent = clock(left);
      if (left <= 0) {
        window.clearInterval(timer);
        if (onZero) onZero();
      }
    }
    timer = window.setInterval(tick, 1000);
    tick();
    return {
      reset: function (seconds) { deadline = Date.now() + seconds * 1000; tick(); },
      stop: function () { window.clearInterval(timer); }
    };
  }

  // ------------------------------------------------------------ the pad (phone)

  function Pad(canvas) {
    this.canvas = canvas;
    this.strokes = [];
    this.current = null;
    this.resize();
    canvas.addEventListener("pointerdown", this.down.bind(this));
    canvas.addEventListener("pointermove", this.move.bind(this));
    canvas.addEventListener("pointerup", this.up.bind(this));
    canvas.addEventListener("pointercancel", this.up.bind(this));
    window.addEventListener("resize", this.resize.bind(this));
  }

  Pad.prototype.resize = function () {
    var ratio = window.devicePixelRatio || 1;
    var box = this.canvas.getBoundingClientRect();
    this.width = box.width;
    this.height = box.height;
    this.canvas.width = Math.round(box.width * ratio);
    this.canvas.height = Math.round(box.height * ratio);
    this.redraw(this.canvas, ratio);
  };

  Pad.prototype.point = function (event) {
    var box = this.canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  };

  Pad.prototype.down = function (event) {
    if (event.button !== undefined && event.button > 0) return;
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    this.current = [this.point(event)];
    this.strokes.push(this.current);
    this.redraw(this.canvas, window.devicePixelRatio || 1);
    this.canvas.dispatchEvent(new CustomEvent("signature:ink", { bubbles: true }));
  };

  Pad.prototype.move = function (event) {
    if (!this.current) return;
    event.preventDefault();
    var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    if (!events.length) events = [event];
    for (var i = 0; i < events.length; i++) this.current.push(this.point(events[i]));
    this.redraw(this.canvas, window.devicePixelRatio || 1);
  };

  Pad.prototype.up = function (event) {
    if (!this.current) return;
    if (this.canvas.hasPointerCapture && this.canvas.hasPointerCapture(event.pointerId)) {
      this.canvas.releasePointerCapture(event.pointerId);
    }
    this.current = null;
  };

  Pad.prototype.clear = function () {
    this.strokes = [];
    this.current = null;
    this.redraw(this.canvas, window.devicePixelRatio || 1);
  };

  Pad.prototype.isEmpty = function () {
    return this.strokes.length === 0;
  };

  // Draws every stroke on ``target`` at ``scale`` device pixels per CSS pixel, on a clear background.
  Pad.prototype.redraw = function (target, scale) {
    var ctx = target.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, target.width, target.height);
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineWidth = LINE_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    this.strokes.forEach(function (points) {
      if (points.length === 1) {
        ctx.beginPath();
        ctx.arc(points[0].x, points[0].y, LINE_WIDTH / 2, 0, Math.PI * 2);
        ctx.fill();
        return;
      }
      ctx.beginPath();
      ctx.moveTo(points[0].x, points[0].y);
      for (var i = 1; i < points.length - 1; i++) {
        var midX = (points[i].x + points[i + 1].x) / 2;
        var midY = (points[i].y + points[i + 1].y) / 2;
        ctx.quadraticCurveTo(points[i].x, points[i].y, midX, midY);
      }
      var last = points[points.length - 1];
      ctx.lineTo(last.x, last.y);
      ctx.stroke();
    });
  };

  // A PNG data URL of the strokes, at most EXPORT_MAX_WIDTH pixels wide, whatever the screen's density.
  Pad.prototype.toDataURL = function () {
    var scale = Math.min(2, EXPORT_MAX_WIDTH / Math.max(1, this.width));
    var out = document.createElement("canvas");
    out.width = Math.round(this.width * scale);
    out.height = Math.round(this.height * scale);
    this.redraw(out, scale);
    return out.toDataURL("image/png");
  };

  function setUpPad(form) {
    var canvas = form.querySelector("[data-signature-pad]");
    var value = form.querySelector("[data-signature-value]");
    var empty = form.querySelector("[data-signature-empty]");
    var confirm = form.querySelector("[data-signature-confirm]");
    var pad = new Pad(canvas);

    canvas.addEventListener("signature:ink", function () { empty.hidden = true; });
    form.querySelector("[data-signature-clear]").addEventListener("click", function () {
      pad.clear();
      value.value = "";
    });
    form.addEventListener("submit", function (event) {
      if (pad.isEmpty()) {
        event.preventDefault();
        empty.hidden = false;
        return;
      }
      value.value = pad.toDataURL();
      confirm.disabled = true;
    });
    var timer = document.querySelector("[data-countdown]");
    if (timer) countdown(timer, function () { confirm.disabled = true; });
  }

  // ------------------------------------------------------------ the clerk's status

  function show(element, visible) {
    if (element) element.hidden = !visible;
  }

  function setUpStatus(section) {
    var url = section.getAttribute("data-signature-status");
    var label = section.querySelector("[data-status-label]");
    var image = section.querySelector("[data-signature-image]");
    var link = section.querySelector("[data-document-link]");
    var signedAt = section.querySelector("[data-signed-at]");
    var timerElement = section.querySelector("[data-countdown]");
    var timer = timerElement ? countdown(timerElement) : null;
    var poller = null;

    function finish(state) {
      window.clearInterval(poller);
      if (timer) timer.stop();
      show(section.querySelector("[data-signature-qr]"), false);
      show(section.querySelector("[data-signature-link-box]"), false);
      show(section.querySelector("[data-countdown-box]"), false);
      show(section.querySelector("[data-signature-renew]"), state !== "signed");
    }

    function apply(data) {
      section.setAttribute("data-state", data.status);
      label.textContent = data.label;
      if (timer && data.status === "pending") timer.reset(data.seconds_left);
      if (data.signature) {
        image.src = data.signature;
        show(image, true);
      }
      if (data.signed_at_local) {
        signedAt.textContent = data.signed_at_local;
        show(section.querySelector("[data-signed-at-box]"), true);
      }
      if (data.document_url) {
        link.href = data.document_url;
        show(link, true);
      }
      if (data.status !== "pending") finish(data.status);
    }

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) { if (data) apply(data); })
        .catch(function () { /* the next poll tries again */ });
    }

    if (section.getAttribute("data-state") === "pending") {
      poller = window.setInterval(poll, POLL_MS);
    } else {
      finish(section.getAttribute("data-state"));
    }
  }

  document.querySelectorAll("[data-signature-pad-form]").forEach(setUpPad);
  document.querySelectorAll("[data-signature-status]").forEach(setUpStatus);
})();
