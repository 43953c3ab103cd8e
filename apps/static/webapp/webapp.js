/* The published web app's shared helpers: the passport, the web-app API, Dify's event stream, safe
 * Markdown and the input form. No build step; each page script uses window.WebApp. */
(function () {
  "use strict";

  const body = document.body;
  const code = body.dataset.code;
  const storageKey = "dify-webapp:" + code;
  let passportPromise = null;

  // --- Passport: one end user per browser (its session id kept to get the same user back) ----------

  function stored() {
    try {
      return JSON.parse(localStorage.getItem(storageKey) || "{}");
    } catch (e) {
      return {};
    }
  }

  function store(value) {
    try {
      localStorage.setItem(storageKey, JSON.stringify(value));
    } catch (e) {
      /* private mode: the token lives for this page only */
    }
    memory = value;
  }

  let memory = stored();

  function claims(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(decodeURIComponent(escape(atob(part))));
    } catch (e) {
      return {};
    }
  }

  function fresh(token) {
    const exp = token ? claims(token).exp : 0;
    return exp && exp * 1000 - Date.now() > 30000;
  }

  async function requestPassport(loginToken) {
    const params = new URLSearchParams();
    if (memory.session_id && !loginToken) params.set("user_id", memory.session_id);
    const headers = { "X-App-Code": code };
    if (loginToken) headers.Authorization = "Bearer " + loginToken;
    const response = await fetch("/api/passport" + (params.toString() ? "?" + params : ""), { headers });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.message || "Could not open this app.");
      error.code = data.code;
      throw error;
    }
    const c = claims(data.access_token);
    store({ token: data.access_token, session_id: c.session_id, login: loginToken || memory.login || null });
    return data.access_token;
  }

  async function passport(force) {
    if (!force && fresh(memory.token)) return memory.token;
    if (!passportPromise) {
      passportPromise = (async () => {
        try {
          if (memory.login && fresh(memory.login)) return await requestPassport(memory.login);
          return await requestPassport(null);
        } catch (error) {
          if (error.code === "web_sso_auth_required" || error.code === "web_app_access_denied") {
            const loginToken = await signIn(error.code === "web_app_access_denied" ? error.message : "");
            return await requestPassport(loginToken);
          }
          throw error;
        }
      })().finally(() => {
        passportPromise = null;
      });
    }
    return passportPromise;
  }

  function signIn(problem) {
    // Sites that are not public: a signed-in workspace member or a listed email.
    return new Promise((resolve) => {
      const main = document.getElementById("main") || body;
      const form = el("form", { class: "card signin", "aria-labelledby": "signin-heading" });
      form.innerHTML =
        '<h2 id="signin-heading">Sign in to use this app</h2>' +
        '<div class="field"><label for="signin-email">Email</label><input id="signin-email" type="email" autocomplete="username" required></div>' +
        '<div class="field"><label for="signin-password">Password</label><input id="signin-password" type="password" autocomplete="current-password" required></div>' +
        '<p class="signin-error" role="alert"></p><div class="actions"><button class="primary" type="submit">Sign in</button></div>';
      form.querySelector(".signin-error").textContent = problem || "";
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const response = await fetch("/api/login", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            email: form.querySelector("#signin-email").value,
            password: form.querySelector("#signin-password").value,
          }),
        });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) {
          form.querySelector(".signin-error").textContent = data.message || "Sign-in failed.";
          return;
        }
        form.remove();
        store({ ...memory, login: data.data.access_token });
        resolve(data.data.access_token);
      });
      main.prepend(form);
      form.querySelector("input").focus();
    });
  }

  // --- The web-app API ---------------------------------------------------------------------------------

  async function headers(json) {
    const h = { Authorization: "Bearer " + (await passport()), "X-App-Code": code };
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  async function raw(path, options, retried) {
    const init = { method: options.method || "GET", signal: options.signal };
    init.headers = await headers(options.body !== undefined);
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    const response = await fetch("/api" + path, init);
    if (response.status === 401 && !retried) {
      await passport(true); // expired or revoked: a new passport, then once more
      return raw(path, options, true);
    }
    return response;
  }

  async function api(path, options) {
    const response = await raw(path, options || {});
    if (response.status === 204) return null;
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.message || "Request failed (" + response.status + ").");
      error.code = data.code;
      throw error;
    }
    return data;
  }

  // Dify's server-sent events over a POST: `data: {json}` frames, `event: ping` keep-alives.
  async function streamEvents(path, payload, onEvent, signal) {
    const response = await raw(path, { method: "POST", body: payload, signal });
    if (!response.ok) {
      const data = await response.json().catch(() => ({}));
      const error = new Error(data.message || "Request failed (" + response.status + ").");
      error.code = data.code;
      throw error;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of frame.split("\n")) {
          if (!line.startsWith("data:")) continue;
          try {
            onEvent(JSON.parse(line.slice(5).trim()));
          } catch (e) {
            if (!(e instanceof SyntaxError)) throw e;
          }
        }
      }
    }
  }

  // --- Safe Markdown: raw HTML from the model is shown as text, and the result is sanitised ---------

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  if (window.marked) {
    window.marked.use({
      gfm: true,
      breaks: true,
      renderer: {
        html(token) {
          return escapeHtml(typeof token === "string" ? token : token.text);
        },
      },
    });
  }
  if (window.DOMPurify) {
    window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A") {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
  }

  function renderMarkdown(target, text) {
    if (!window.marked || !window.DOMPurify) {
      target.textContent = text;
      return;
    }
    target.innerHTML = window.DOMPurify.sanitize(window.marked.parse(text || ""), {
      FORBID_TAGS: ["style", "form", "input", "button", "iframe"],
      FORBID_ATTR: ["style"],
    });
  }

  // --- Small DOM helpers --------------------------------------------------------------------------------

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(key, value === true ? "" : value);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Icons as inline SVG (drawn here, no icon font or emoji font needed).
  const ICONS = {
    like: "M2 10h4v11H2zM8 21h9.2a2 2 0 0 0 2-1.6l1.6-7.4A2 2 0 0 0 18.8 9.5H14V5.2A2.7 2.7 0 0 0 11.3 2.5L8 10z",
    dislike: "M22 14h-4V3h4zM16 3H6.8a2 2 0 0 0-2 1.6L3.2 12a2 2 0 0 0 2 2.5H10v4.3a2.7 2.7 0 0 0 2.7 2.7L16 14z",
    pin: "M12 2l3 6.6 7 .8-5.2 4.8 1.4 7L12 17.7 5.8 21.2l1.4-7L2 9.4l7-.8z",
    trash: "M9 2h6l1 2h5v2H3V4h5zM5 8h14l-1.2 14H6.2z",
    edit: "M3 17.2V21h3.8L17.8 10l-3.8-3.8zM20.7 7a1 1 0 0 0 0-1.4l-2.3-2.3a1 1 0 0 0-1.4 0l-1.8 1.8 3.8 3.8z",
    copy: "M16 1H4a2 2 0 0 0-2 2v14h2V3h12zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11z",
    menu: "M3 6h18v2H3zm0 5h18v2H3zm0 5h18v2H3z",
    plus: "M11 4h2v7h7v2h-7v7h-2v-7H4v-2h7z",
  };

  function icon(name) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  }

  function iconButton(name, label, text) {
    const button = el("button", { type: "button", class: "icon-button", "aria-label": label, title: label });
    button.append(icon(name));
    if (text) button.append(" " + text);
    return button;
  }

  function notice(message) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  async function copyText(text, button) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const area = el("textarea");
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    if (button) {
      const label = button.getAttribute("aria-label");
      button.setAttribute("aria-label", "Copied");
      button.classList.add("done");
      setTimeout(() => {
        button.setAttribute("aria-label", label);
        button.classList.remove("done");
      }, 1200);
    }
  }

  function fill(template, inputs) {
    return String(template || "").replace(/\{\{\s*([\w.]+)\s*\}\}/g, (m, name) => (name in inputs ? inputs[name] : m));
  }

  // --- The app's input form (Dify's user_input_form) ------------------------------------------------------

  function buildInputsForm(form, userInputForm) {
    const fields = [];
    (userInputForm || []).forEach((entry) => {
      const type = Object.keys(entry)[0];
      const spec = entry[type] || {};
      if (!spec.variable || spec.hide) return;
      const id = "input-" + spec.variable;
      const wrap = el("div", { class: "field" });
      const label = el("label", { for: id }, spec.label || spec.variable);
      if (!spec.required) label.append(el("span", { class: "optional" }, " (optional)"));
      wrap.append(label);
      let input;
      if (type === "paragraph") {
        input = el("textarea", { id, name: spec.variable, maxlength: spec.max_length || null });
      } else if (type === "select") {
        input = el("select", { id, name: spec.variable });
        input.append(el("option", { value: "" }, "Choose…"));
        (spec.options || []).forEach((option) => input.append(el("option", { value: option }, option)));
      } else if (type === "number") {
        input = el("input", { id, name: spec.variable, type: "number" });
      } else if (type === "checkbox") {
        input = el("input", { id, name: spec.variable, type: "checkbox" });
      } else if (type === "text-input" || type === "string") {
        input = el("input", { id, name: spec.variable, type: "text", maxlength: spec.max_length || null });
      } else {
        return; // files and other kinds are not offered by this page yet
      }
      if (spec.required && type !== "checkbox") input.required = true;
      if (spec.placeholder) input.placeholder = spec.placeholder;
      if (spec.default !== undefined && spec.default !== null && spec.default !== "") {
        if (type === "checkbox") input.checked = !!spec.default;
        else input.value = spec.default;
      }
      wrap.append(input);
      form.append(wrap);
      fields.push({ spec, type, input });
    });
    return {
      count: fields.length,
      values() {
        const values = {};
        fields.forEach(({ spec, type, input }) => {
          if (type === "checkbox") values[spec.variable] = input.checked;
          else if (type === "number") values[spec.variable] = input.value === "" ? null : Number(input.value);
          else if (input.value !== "") values[spec.variable] = input.value;
        });
        return values;
      },
      setDisabled(disabled) {
        fields.forEach(({ input }) => (input.disabled = disabled));
      },
    };
  }

  function feedbackButtons(messageId, rating) {
    // Like / dislike; pressing the chosen one again takes it back (rating null).
    const group = el("span", { class: "feedback", role: "group", "aria-label": "Feedback" });
    let current = rating || null;
    const buttons = {};
    for (const [value, iconName, label] of [["like", "like", "Like"], ["dislike", "dislike", "Dislike"]]) {
      const button = iconButton(iconName, label);
      button.setAttribute("aria-pressed", String(current === value));
      button.addEventListener("click", async () => {
        const next = current === value ? null : value;
        try {
          await api("/messages/" + messageId + "/feedbacks", { method: "POST", body: { rating: next } });
          current = next;
          for (const [v, b] of Object.entries(buttons)) b.setAttribute("aria-pressed", String(current === v));
        } catch (error) {
          notice(error.message);
        }
      });
      buttons[value] = button;
      group.append(button);
    }
    return group;
  }

  window.WebApp = {
    code,
    mode: body.dataset.mode,
    showSteps: body.dataset.showSteps === "true",
    answerIcon: body.dataset.answerIcon || "🤖",
    passport,
    api,
    streamEvents,
    renderMarkdown,
    escapeHtml,
    el,
    icon,
    iconButton,
    notice,
    copyText,
    fill,
    buildInputsForm,
    feedbackButtons,
  };
})();
