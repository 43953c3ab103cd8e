/* The workflow page: the input form, the run's steps live (node by node) and its outputs. */
(function () {
  "use strict";
  const W = window.WebApp;
  const $ = (id) => document.getElementById(id);
  const form = $("inputs-form");
  const runButton = $("run");
  const stopButton = $("stop");
  const steps = $("steps");
  const state = { taskId: null, controller: null, inputs: null };

  function stepRow(data) {
    let row = steps.querySelector('[data-node-execution="' + CSS.escape(data.id) + '"]');
    if (!row) {
      row = W.el("li", { "data-node-execution": data.id, "data-node-id": data.node_id });
      row.append(
        W.el("span", { class: "state", "aria-hidden": "true" }),
        W.el("span", { class: "title" }, data.title || data.node_id),
        W.el("span", { class: "type" }, data.node_type || ""),
        W.el("span", { class: "time" }),
        W.el("span", { class: "visually-hidden status-text" }),
      );
      steps.append(row);
    }
    return row;
  }

  function setStatus(row, status, elapsed) {
    row.dataset.status = status;
    row.querySelector(".status-text").textContent = status;
    if (elapsed !== undefined && elapsed !== null) row.querySelector(".time").textContent = Number(elapsed).toFixed(2) + " s";
  }

  function showOutputs(outputs, streamed) {
    const box = $("outputs");
    box.replaceChildren();
    const entries = Object.entries(outputs || {});
    if (!entries.length && streamed) entries.push(["text", streamed]);
    entries.forEach(([name, value]) => {
      const section = W.el("section", { class: "output" });
      section.append(W.el("h3", {}, name));
      if (typeof value === "string") {
        const content = W.el("div", { class: "markdown" });
        W.renderMarkdown(content, value);
        section.append(content);
      } else {
        section.append(W.el("pre", { class: "json" }, JSON.stringify(value, null, 2)));
      }
      box.append(section);
    });
    const copyText = entries.map(([n, v]) => (typeof v === "string" ? v : JSON.stringify(v, null, 2))).join("\n\n");
    const actions = $("result-actions");
    actions.replaceChildren();
    const copy = W.iconButton("copy", "Copy output", "Copy");
    copy.addEventListener("click", () => W.copyText(copyText, copy));
    actions.append(copy);
  }

  async function run(event) {
    event.preventDefault();
    if (!form.reportValidity()) return;
    steps.replaceChildren();
    $("steps-card").hidden = !W.showSteps;
    $("result-card").hidden = true;
    $("run-status").textContent = "running…";
    runButton.disabled = true;
    stopButton.hidden = false;
    state.controller = new AbortController();
    let streamed = "";
    try {
      await W.streamEvents(
        "/workflows/run",
        { inputs: state.inputs.values(), response_mode: "streaming" },
        (e) => {
          if (e.task_id) state.taskId = e.task_id;
          const data = e.data || {};
          if (e.event === "node_started") {
            setStatus(stepRow(data), "running");
          } else if (e.event === "node_finished") {
            setStatus(stepRow(data), data.status, data.elapsed_time);
          } else if (e.event === "text_chunk") {
            streamed += data.text || "";
            $("result-card").hidden = false;
            const box = $("outputs");
            box.replaceChildren(W.el("div", { class: "markdown typing" }));
            W.renderMarkdown(box.firstChild, streamed);
          } else if (e.event === "workflow_finished") {
            $("run-status").textContent = data.status + (data.elapsed_time ? " · " + Number(data.elapsed_time).toFixed(2) + " s" : "");
            $("result-card").hidden = false;
            if (data.status === "succeeded" || data.status === "partial-succeeded") showOutputs(data.outputs, streamed);
            else $("outputs").replaceChildren(W.el("p", { class: "error", role: "alert" }, data.error || "The run " + data.status + "."));
          } else if (e.event === "error") {
            W.notice(e.message || "The run failed.");
          }
        },
        state.controller.signal,
      );
    } catch (error) {
      if (error.name !== "AbortError") W.notice(error.message);
      $("run-status").textContent = "";
    } finally {
      runButton.disabled = false;
      stopButton.hidden = true;
      state.taskId = null;
    }
  }

  stopButton.addEventListener("click", async () => {
    const controller = state.controller;
    if (state.taskId) await W.api("/workflows/tasks/" + state.taskId + "/stop", { method: "POST" }).catch(() => {});
    setTimeout(() => controller && controller.abort(), 1500);
  });
  form.addEventListener("submit", run);

  (async () => {
    try {
      await W.passport();
      const parameters = await W.api("/parameters");
      state.inputs = W.buildInputsForm(form, parameters.user_input_form);
      document.body.dataset.ready = "true";
    } catch (error) {
      W.notice(error.message);
    }
  })();
})();
