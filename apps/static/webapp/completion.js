/* The completion page: the input form, a streamed result, feedback, copy and saved results. */
(function () {
  "use strict";
  const W = window.WebApp;
  const $ = (id) => document.getElementById(id);
  const form = $("inputs-form");
  const runButton = $("run");
  const stopButton = $("stop");
  const state = { taskId: null, controller: null, inputs: null };

  function actions(box, messageId, text, rating) {
    box.replaceChildren();
    const copy = W.iconButton("copy", "Copy result", "Copy");
    copy.addEventListener("click", () => W.copyText(text, copy));
    box.append(copy);
    if (!messageId) return;
    const save = W.iconButton("pin", "Save result", "Save");
    save.addEventListener("click", async () => {
      await W.api("/saved-messages", { method: "POST", body: { message_id: messageId } });
      save.textContent = "Saved";
      loadSaved();
    });
    box.append(save, W.feedbackButtons(messageId, rating));
  }

  async function loadSaved() {
    const list = $("saved-list");
    const saved = await W.api("/saved-messages?limit=50");
    list.replaceChildren();
    saved.data.forEach((item) => {
      const li = W.el("li");
      const content = W.el("div", { class: "markdown" });
      W.renderMarkdown(content, item.answer);
      const box = W.el("div", { class: "message-actions" });
      actions(box, null, item.answer);
      const remove = W.iconButton("trash", "Remove saved result", "Remove");
      remove.addEventListener("click", async () => {
        await W.api("/saved-messages/" + item.id, { method: "DELETE" });
        loadSaved();
      });
      box.append(remove);
      li.append(content, box);
      list.append(li);
    });
  }

  async function run(event) {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const result = $("result");
    $("result-card").hidden = false;
    $("result-actions").replaceChildren();
    result.replaceChildren();
    result.classList.add("typing");
    runButton.disabled = true;
    stopButton.hidden = false;
    state.controller = new AbortController();
    let text = "";
    let messageId = null;
    try {
      await W.streamEvents(
        "/completion-messages",
        { inputs: state.inputs.values(), response_mode: "streaming" },
        (e) => {
          if (e.task_id) state.taskId = e.task_id;
          if (e.event === "message") {
            text += e.answer || "";
            messageId = e.message_id || e.id || messageId;
            W.renderMarkdown(result, text);
          } else if (e.event === "message_replace") {
            text = e.answer || "";
          } else if (e.event === "message_end") {
            messageId = e.message_id || e.id || messageId;
          } else if (e.event === "error") {
            text += (text ? "\n\n" : "") + (e.message || "Something went wrong.");
          }
        },
        state.controller.signal,
      );
    } catch (error) {
      if (error.name !== "AbortError") text += (text ? "\n\n" : "") + error.message;
    } finally {
      result.classList.remove("typing");
      W.renderMarkdown(result, text);
      actions($("result-actions"), messageId, text);
      runButton.disabled = false;
      stopButton.hidden = true;
      state.taskId = null;
    }
  }

  stopButton.addEventListener("click", async () => {
    const controller = state.controller;
    if (state.taskId) await W.api("/completion-messages/" + state.taskId + "/stop", { method: "POST" }).catch(() => {});
    setTimeout(() => controller && controller.abort(), 1500);
  });
  form.addEventListener("submit", run);

  (async () => {
    try {
      await W.passport();
      const parameters = await W.api("/parameters");
      state.inputs = W.buildInputsForm(form, parameters.user_input_form);
      loadSaved();
      document.body.dataset.ready = "true";
    } catch (error) {
      W.notice(error.message);
    }
  })();
})();
