/* The chat page (chat, agent-chat and chatflow apps): conversations, streamed answers, feedback. */
(function () {
  "use strict";
  const W = window.WebApp;
  const $ = (id) => document.getElementById(id);
  const messagesBox = $("messages");
  const suggestedBox = $("suggested");
  const composer = $("composer");
  const queryBox = $("query");
  const sendButton = $("send");
  const stopButton = $("stop");
  const inputsForm = $("inputs-form");
  const sidebar = $("sidebar");

  const state = { parameters: {}, conversationId: "", taskId: null, controller: null, busy: false, form: null };

  // --- Rendering -----------------------------------------------------------------------------------

  function userMessage(text) {
    const row = W.el("div", { class: "message user" });
    row.append(W.el("div", { class: "bubble" }, text));
    messagesBox.append(row);
    return row;
  }

  function assistantMessage(extraClass) {
    const row = W.el("div", { class: "message assistant" + (extraClass ? " " + extraClass : "") });
    row.append(W.el("span", { class: "avatar", "aria-hidden": "true" }, W.answerIcon));
    const bubble = W.el("div", { class: "bubble" });
    const content = W.el("div", { class: "markdown answer" });
    const actions = W.el("div", { class: "message-actions" });
    bubble.append(content, actions);
    row.append(bubble);
    messagesBox.append(row);
    return { row, content, actions, text: "" };
  }

  function finishAssistant(message, messageId, rating) {
    message.content.classList.remove("typing");
    message.actions.replaceChildren();
    const copy = W.iconButton("copy", "Copy answer", "Copy");
    copy.addEventListener("click", () => W.copyText(message.text, copy));
    message.actions.append(copy);
    if (messageId) {
      message.row.dataset.messageId = messageId;
      message.actions.append(W.feedbackButtons(messageId, rating));
    }
  }

  function scrollDown() {
    messagesBox.scrollTop = messagesBox.scrollHeight;
  }

  function showSuggestions(questions) {
    suggestedBox.replaceChildren();
    (questions || []).forEach((question) => {
      const button = W.el("button", { type: "button" }, question);
      button.addEventListener("click", () => send(question));
      suggestedBox.append(button);
    });
  }

  function showOpening() {
    messagesBox.replaceChildren();
    const inputs = state.form ? state.form.values() : {};
    const opening = W.fill(state.parameters.opening_statement, inputs);
    if (opening) {
      const message = assistantMessage("opening");
      message.text = opening;
      W.renderMarkdown(message.content, opening);
    }
    showSuggestions(state.parameters.suggested_questions);
  }

  // --- Conversations -----------------------------------------------------------------------------

  async function loadConversations() {
    const [pinned, recent] = await Promise.all([
      W.api("/conversations?limit=100&pinned=true"),
      W.api("/conversations?limit=100&pinned=false"),
    ]);
    renderList($("pinned-list"), pinned.data, true);
    renderList($("conversation-list"), recent.data, false);
    $("pinned-heading").hidden = pinned.data.length === 0;
  }

  function renderList(list, conversations, pinned) {
    list.replaceChildren();
    conversations.forEach((conversation) => {
      const item = W.el("li", { "aria-current": String(conversation.id === state.conversationId) });
      const name = conversation.name || "New conversation";
      const open = W.el("button", { type: "button", class: "open", title: name }, name);
      open.addEventListener("click", () => openConversation(conversation.id));
      const pin = W.iconButton("pin", (pinned ? "Unpin " : "Pin ") + name);
      pin.setAttribute("aria-pressed", String(pinned));
      pin.addEventListener("click", async () => {
        await W.api("/conversations/" + conversation.id + (pinned ? "/unpin" : "/pin"), { method: "PATCH" });
        loadConversations();
      });
      const rename = W.iconButton("edit", "Rename " + name);
      rename.addEventListener("click", async () => {
        const newName = window.prompt("Rename conversation", name);
        if (!newName || !newName.trim()) return;
        await W.api("/conversations/" + conversation.id + "/name", { method: "POST", body: { name: newName.trim() } });
        loadConversations();
      });
      const remove = W.iconButton("trash", "Delete " + name);
      remove.addEventListener("click", async () => {
        if (!window.confirm("Delete this conversation?")) return;
        await W.api("/conversations/" + conversation.id, { method: "DELETE" });
        if (conversation.id === state.conversationId) newChat();
        loadConversations();
      });
      item.append(open, pin, rename, remove);
      list.append(item);
    });
  }

  async function openConversation(id) {
    if (state.busy) return;
    state.conversationId = id;
    closeSidebar();
    inputsForm.hidden = true;
    messagesBox.replaceChildren();
    showSuggestions([]);
    const history = await W.api("/messages?limit=100&conversation_id=" + encodeURIComponent(id));
    history.data.forEach((item) => {
      userMessage(item.query);
      const message = assistantMessage(item.status === "error" ? "error" : "");
      message.text = item.answer || item.error || "";
      W.renderMarkdown(message.content, message.text);
      finishAssistant(message, item.id, item.feedback && item.feedback.rating);
    });
    document.querySelectorAll(".conversation-list li").forEach((li) => li.setAttribute("aria-current", "false"));
    loadConversations();
    scrollDown();
    queryBox.focus();
  }

  function newChat() {
    if (state.busy) return;
    state.conversationId = "";
    inputsForm.hidden = !state.form || state.form.count === 0;
    if (state.form) state.form.setDisabled(false);
    closeSidebar();
    showOpening();
    loadConversations();
    queryBox.focus();
  }

  // --- Sending ---------------------------------------------------------------------------------------

  function setBusy(busy) {
    state.busy = busy;
    sendButton.disabled = busy;
    stopButton.hidden = !busy;
  }

  async function send(text) {
    const query = (text || queryBox.value).trim();
    if (!query || state.busy) return;
    if (!state.conversationId && !inputsForm.hidden && !inputsForm.reportValidity()) return;
    queryBox.value = "";
    showSuggestions([]);
    const inputs = state.form ? state.form.values() : {};
    userMessage(query);
    const message = assistantMessage();
    message.content.classList.add("typing");
    scrollDown();
    setBusy(true);
    state.controller = new AbortController();
    let messageId = null;
    let pending = false;
    const paint = () => {
      pending = false;
      W.renderMarkdown(message.content, message.text);
      scrollDown();
    };
    try {
      await W.streamEvents(
        "/chat-messages",
        { query, inputs, conversation_id: state.conversationId, response_mode: "streaming" },
        (event) => {
          if (event.task_id) state.taskId = event.task_id;
          if (event.conversation_id && !state.conversationId) {
            state.conversationId = event.conversation_id;
            inputsForm.hidden = true;
          }
          if (event.event === "message" || event.event === "agent_message") {
            message.text += event.answer || "";
            messageId = event.message_id || event.id || messageId;
            if (!pending) {
              pending = true;
              requestAnimationFrame(paint);
            }
          } else if (event.event === "message_replace") {
            message.text = event.answer || "";
            paint();
          } else if (event.event === "message_end") {
            messageId = event.message_id || event.id || messageId;
          } else if (event.event === "error") {
            message.row.classList.add("error");
            message.text += (message.text ? "\n\n" : "") + (event.message || "Something went wrong.");
          }
        },
        state.controller.signal,
      );
    } catch (error) {
      if (error.name !== "AbortError") {
        message.row.classList.add("error");
        message.text += (message.text ? "\n\n" : "") + error.message;
      }
    } finally {
      paint();
      finishAssistant(message, messageId);
      setBusy(false);
      state.taskId = null;
      state.controller = null;
    }
    loadConversations();
    setTimeout(loadConversations, 2500); // the generated conversation name arrives a little later
    if (messageId && (state.parameters.suggested_questions_after_answer || {}).enabled) {
      W.api("/messages/" + messageId + "/suggested-questions")
        .then((data) => showSuggestions(data.data))
        .catch(() => {});
    }
  }

  async function stop() {
    const controller = state.controller;
    if (state.taskId) {
      await W.api("/chat-messages/" + state.taskId + "/stop", { method: "POST" }).catch(() => {});
    }
    setTimeout(() => controller && controller.abort(), 1500);
  }

  // --- Sidebar on narrow screens ---------------------------------------------------------------------

  function closeSidebar() {
    sidebar.classList.remove("open");
    $("sidebar-toggle").setAttribute("aria-expanded", "false");
  }

  $("sidebar-toggle").addEventListener("click", () => {
    const open = sidebar.classList.toggle("open");
    $("sidebar-toggle").setAttribute("aria-expanded", String(open));
  });

  $("sidebar-toggle").replaceChildren(W.icon("menu"));
  $("new-chat").prepend(W.icon("plus"), " ");

  // --- Start --------------------------------------------------------------------------------------------

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  queryBox.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  queryBox.addEventListener("input", () => {
    queryBox.style.height = "auto";
    queryBox.style.height = Math.min(queryBox.scrollHeight, 200) + "px";
  });
  stopButton.addEventListener("click", stop);
  $("new-chat").addEventListener("click", newChat);
  inputsForm.addEventListener("input", () => {
    if (!state.conversationId) showOpening();
  });
  inputsForm.addEventListener("submit", (event) => event.preventDefault());

  (async () => {
    try {
      await W.passport();
      state.parameters = await W.api("/parameters");
      state.form = W.buildInputsForm(inputsForm, state.parameters.user_input_form);
      if (state.form.count) inputsForm.prepend(W.el("h2", {}, "Before you start"));
      newChat();
      document.body.dataset.ready = "true";
    } catch (error) {
      W.notice(error.message);
    }
  })();
})();
