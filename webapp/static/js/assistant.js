// The assistant's chat box: questions go to /assistant/ask as JSON and the answers join the
// conversation in place. Without this script the same form posts to /assistant and the answer
// comes back as a page.
// Every text from the server is inserted as text, never as HTML.
(function () {
  "use strict";

  var root = document.querySelector("[data-assistant]");
  if (!root || !window.fetch) return;

  var log = root.querySelector("#assistant-log");
  var form = root.querySelector("#assistant-form");
  var input = root.querySelector("#assistant-q");
  var error = root.querySelector("#assistant-q__error");
  var maxLength = parseInt(root.getAttribute("data-max-length"), 10) || 200;
  var busy = false;

  function label(name) {
    return root.getAttribute("data-label-" + name) || "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function hidden(text) {
    return el("span", "visually-hidden", text);
  }

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
    if (message) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
  }

  function badge(text, modifier) {
    return el("span", "badge" + (modifier ? " badge--" + modifier : ""), text);
  }

  function itemCard(item) {
    var card = el("article", "assistant-item");
    var heading = el("h3", "assistant-item__name");
    var link = el("a", null, item.name);
    link.href = item.url;
    heading.appendChild(link);
    card.appendChild(heading);

    var meta = el("p", "assistant-item__meta");
    meta.appendChild(badge(item.category));
    meta.appendChild(document.createTextNode(" " + item.agency + " "));
    if (item.runs_here) meta.appendChild(badge(label("here"), "online"));
    else if (item.online) meta.appendChild(badge(label("online"), "online"));
    else meta.appendChild(badge(label("offline")));
    card.appendChild(meta);

    if (item.documents && item.documents.length) {
      card.appendChild(el("p", "assistant-item__label", label("documents")));
      var list = el("ul", "assistant-item__documents");
      item.documents.forEach(function (d) { list.appendChild(el("li", null, d)); });
      card.appendChild(list);
    }
    if (item.mydata && item.mydata.length) {
      var mydata = el("p", "assistant-item__mydata");
      mydata.appendChild(badge("MyData", "mydata"));
      mydata.appendChild(document.createTextNode(" " + label("mydata") + item.mydata.join("、")));
      card.appendChild(mydata);
    }
    return card;
  }

  function suggestions(list) {
    var group = el("div", "assistant-suggestions");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", label("suggestions"));
    list.forEach(function (text) {
      var button = el("button", "btn btn--secondary", text);
      button.type = "button";
      button.addEventListener("click", function () { ask(text); });
      group.appendChild(button);
    });
    return group;
  }

  function questionBubble(text) {
    var bubble = el("div", "assistant-msg assistant-msg--you");
    bubble.appendChild(hidden(label("you")));
    bubble.appendChild(document.createTextNode(text));
    return bubble;
  }

  function answerBubble(reply) {
    var bubble = el("div", "assistant-msg assistant-msg--bot");
    bubble.appendChild(hidden(label("bot")));
    bubble.appendChild(el("p", "assistant-msg__text", reply.answer));
    if (reply.hotline) {
      var hotline = el("p", "assistant-hotline");
      var call = el("a", null, label("hotline"));
      call.href = "tel:1999";
      hotline.appendChild(call);
      bubble.appendChild(hotline);
    }
    (reply.items || []).forEach(function (item) { bubble.appendChild(itemCard(item)); });
    if (reply.suggestions && reply.suggestions.length) bubble.appendChild(suggestions(reply.suggestions));
    return bubble;
  }

  function waitingBubble() {
    var bubble = el("div", "assistant-msg assistant-msg--bot assistant-msg--waiting");
    bubble.appendChild(el("p", "assistant-msg__text", label("waiting")));
    return bubble;
  }

  function check(text) {
    if (!text) return label("empty");
    if (text.length > maxLength) return label("too-long");
    return "";
  }

  function ask(text) {
    text = (text || "").trim();
    var problem = check(text);
    showError(problem);
    if (problem || busy) return;
    busy = true;
    var asked = questionBubble(text);
    log.appendChild(asked);
    var waiting = waitingBubble();
    log.appendChild(waiting);
    fetch(root.getAttribute("data-ask-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json",
                 "X-CSRFToken": root.getAttribute("data-csrf") },
      body: JSON.stringify({ q: text })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      waiting.remove();
      if (!result.ok) {
        var messages = (result.body.errors && result.body.errors.q) || [label("failed")];
        log.lastChild.remove();
        showError(messages.join(" "));
        return;
      }
      input.value = "";
      log.appendChild(answerBubble(result.body));
      var examples = root.querySelector(".assistant-suggestions--examples");
      if (examples) examples.remove();
    }).catch(function () {
      waiting.remove();
      log.appendChild(el("p", "assistant-msg assistant-msg--bot", label("failed")));
    }).then(function () {
      busy = false;
      // The newest exchange is read from its question down, so that is what comes into view.
      if (asked.parentNode) log.scrollTop = asked.offsetTop;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask(input.value);
    input.focus();
  });

  // Example and server-rendered suggestion buttons are small GET forms; answer them in place too.
  root.addEventListener("submit", function (event) {
    var target = event.target;
    if (!target.classList || !target.classList.contains("assistant-suggestion")) return;
    event.preventDefault();
    var button = target.querySelector("button[name=q]");
    if (button) ask(button.value);
  });
})();
