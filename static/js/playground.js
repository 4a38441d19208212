// The playground page: POST the form, read the server-sent events with fetch and a
// ReadableStream, and fill one column per model. Stop aborts the fetch; the server
// then stops reading upstream. Model text is added as text; only the server's
// sanitised HTML (the "column" event) is put in as markup.
(function () {
  "use strict";
  const form = document.getElementById("playground-form");
  if (!form) return;
  const sendButton = document.getElementById("send");
  const stopButton = document.getElementById("stop");
  const columnsEl = document.getElementById("columns");
  const messageEl = document.getElementById("playground-message");
  const template = document.getElementById("column-template");
  let controller = null;
  let columns = [];

  function say(text, kind) {
    messageEl.textContent = text || "";
    messageEl.className = kind || "";
  }

  function busy(on) {
    sendButton.disabled = on;
    sendButton.setAttribute("aria-busy", on ? "true" : "false");
    stopButton.disabled = !on;
  }

  function ms(value) {
    return value === null || value === undefined ? "—" : Math.round(value).toLocaleString() + " ms";
  }

  function cost(metrics) {
    if (metrics.cost_basis === "hourly") return "self-hosted (hourly)";
    if (metrics.cost_usd === null || metrics.cost_usd === undefined) return "—";
    return "$" + Number(metrics.cost_usd).toFixed(6);
  }

  function dash(value) {
    return value === null || value === undefined ? "—" : String(value);
  }

  function start(data) {
    columnsEl.replaceChildren();
    columns = data.columns.map(function (column) {
      const node = template.content.firstElementChild.cloneNode(true);
      node.dataset.column = column.position;
      node.querySelector(".column-label").textContent = column.endpoint_name + " · " + column.model;
      const location = node.querySelector(".column-location");
      location.textContent = column.location === "external" ? "External" : "In-house";
      location.classList.add(column.location);
      node.querySelector(".column-status").textContent = "streaming";
      columnsEl.appendChild(node);
      return { node: node, answer: node.querySelector(".answer"), done: false };
    });
  }

  function delta(data) {
    const column = columns[data.column];
    if (column) column.answer.appendChild(document.createTextNode(data.text));
  }

  function finish(data) {
    const column = columns[data.column];
    if (!column) return;
    column.done = true;
    const node = column.node;
    const status = node.querySelector(".column-status");
    status.textContent = data.status;
    status.removeAttribute("aria-busy");
    node.classList.add(data.status);
    if (data.html) {
      column.answer.innerHTML = data.html; // sanitised by the server (nh3)
      column.answer.classList.add("rendered");
    }
    if (data.error) {
      const error = node.querySelector(".column-error");
      error.textContent = data.error;
      error.hidden = false;
    }
    const m = data.metrics || {};
    node.querySelector('[data-metric="ttft"]').textContent = ms(m.ttft_ms);
    node.querySelector('[data-metric="total"]').textContent = ms(m.total_ms);
    node.querySelector('[data-metric="tokens"]').textContent = dash(m.input_tokens) + " / " + dash(m.output_tokens);
    node.querySelector('[data-metric="speed"]').textContent =
      m.tokens_per_second === null || m.tokens_per_second === undefined ? "—" : m.tokens_per_second.toFixed(1);
    node.querySelector('[data-metric="cost"]').textContent = cost(m);
  }

  function done(data) {
    const link = document.createElement("a");
    link.href = data.url;
    link.textContent = "Saved as run #" + data.run;
    messageEl.replaceChildren(link);
    messageEl.className = "";
  }

  function stopped() {
    columns.forEach(function (column) {
      if (column.done) return;
      const status = column.node.querySelector(".column-status");
      status.textContent = "stopped";
      status.removeAttribute("aria-busy");
      column.node.classList.add("stopped");
    });
  }

  function dispatch(frame) {
    let event = "message";
    const data = [];
    frame.split("\n").forEach(function (line) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    });
    if (!data.length) return;
    const payload = JSON.parse(data.join("\n"));
    if (event === "start") start(payload);
    else if (event === "delta") delta(payload);
    else if (event === "column") finish(payload);
    else if (event === "done") done(payload);
  }

  async function problem(response) {
    let text = "The playground answered " + response.status + ".";
    try {
      const body = await response.json();
      if (body.detail) text = body.detail;
      if (body.errors) {
        text += " " + Object.values(body.errors).flat().map(function (e) { return e.message || e; }).join(" ");
      }
    } catch (error) {
      if (response.redirected) text = "Your session has ended; sign in again.";
    }
    return text;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (controller) return;
    controller = new AbortController();
    busy(true);
    say("Sending…");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        signal: controller.signal,
        credentials: "same-origin",
        headers: { Accept: "text/event-stream" },
      });
      const type = response.headers.get("content-type") || "";
      if (!response.ok || !type.startsWith("text/event-stream")) {
        say(await problem(response), "error");
        return;
      }
      say("Streaming…");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        buffer += chunk.value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      if (error.name === "AbortError") {
        stopped();
        say("Stopped; what came in is saved.");
      } else {
        stopped();
        say("The stream broke off: " + error.message, "error");
      }
    } finally {
      controller = null;
      busy(false);
    }
  });

  stopButton.addEventListener("click", function () {
    if (controller) controller.abort();
  });
})();
