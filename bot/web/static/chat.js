// The web chat page. Without this script the page still works (plain forms and reloads);
// with it, messages are sent with fetch and new ones are asked for every few seconds.
// Messages arrive as HTML rendered (and escaped) by the server; the person's own text is
// inserted with textContent only. The server renders the bot's recent history into the page;
// this tab's copy (sessionStorage) adds what the person typed, which the server never keeps.
// After a language change the answer carries the page's own texts, swapped in place.
(() => {
  "use strict";
  const log = document.getElementById("log");
  const composer = document.getElementById("composer");
  const notice = document.getElementById("notice");
  const openItems = document.getElementById("open-items");
  if (!log || !composer) return;
  const afterField = composer.querySelector('input[name="after"]');
  const eventField = composer.querySelector('input[name="event"]');
  const csrf = composer.querySelector('input[name="csrf"]').value;
  const STORE = "achterban-chat";
  const MAX_KEPT = 200;
  let after = Number(afterField.value) || 0;
  let polling = false;

  function newEvent() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // The conversation as this tab saw it, the person's own messages included (sessionStorage).
  function save() {
    try {
      const nodes = Array.from(log.children).slice(-MAX_KEPT);
      sessionStorage.setItem(STORE, nodes.map((n) => n.outerHTML).join(""));
    } catch (error) {
      /* storage full or disabled: the chat still works */
    }
  }

  function restore() {
    let saved = null;
    try {
      saved = sessionStorage.getItem(STORE);
    } catch (error) {
      return;
    }
    if (!saved) return;
    const template = document.createElement("template");
    template.innerHTML = saved;
    const kept = Array.from(template.content.children);
    const ids = kept.map((n) => Number(n.dataset.id)).filter((id) => id > 0);
    if (!ids.length) return;
    const low = Math.min(...ids);
    const high = Math.max(...ids);
    // History older than this tab's copy stays first, then the copy, then what is newer.
    const older = [];
    const newer = [];
    for (const node of Array.from(log.children)) {
      const id = Number(node.dataset.id);
      if (id && id < low) older.push(node);
      else if (id && id > high) newer.push(node);
    }
    log.replaceChildren(...older, ...kept, ...newer);
  }

  // The page's own texts in the person's (new) language, without a reload.
  function retitle(lang, texts) {
    document.documentElement.lang = lang;
    composer.elements.lang.value = lang;
    for (const el of document.querySelectorAll("[data-t]")) {
      const text = texts[el.dataset.t];
      if (typeof text === "string") el.textContent = text;
    }
    for (const el of document.querySelectorAll("[data-t-label]")) {
      const text = texts[el.dataset.tLabel];
      if (typeof text === "string") el.setAttribute("aria-label", text);
    }
    for (const el of document.querySelectorAll("[data-t-placeholder]")) {
      const text = texts[el.dataset.tPlaceholder];
      if (typeof text === "string") el.setAttribute("placeholder", text);
    }
    for (const el of document.querySelectorAll("[data-t-title]")) {
      const text = texts[el.dataset.tTitle];
      if (typeof text === "string") el.setAttribute("title", text);
    }
    if (typeof texts["web.chat.you"] === "string") log.dataset.you = texts["web.chat.you"];
  }

  // A question is answered once: its buttons go as soon as one is pressed.
  function answered(form) {
    form.classList.add("answered");
    form.querySelectorAll("button, input").forEach((el) => (el.disabled = true));
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function mine(text) {
    const article = document.createElement("article");
    article.className = "msg me";
    article.setAttribute("aria-label", log.dataset.you || "");
    const p = document.createElement("p");
    p.className = "msg-text";
    p.textContent = text;
    article.appendChild(p);
    log.appendChild(article);
    scrollDown();
  }

  function add(messages) {
    for (const m of messages) {
      if (log.querySelector('.msg.bot[data-id="' + Number(m.id) + '"]')) continue;
      if (m.replaces && /^\d+$/.test(String(m.replaces))) {
        const old = log.querySelector('.msg.bot[data-id="' + m.replaces + '"]');
        if (old) old.querySelectorAll("form.choices").forEach((f) => f.remove());
      }
      const template = document.createElement("template");
      template.innerHTML = m.html.trim();
      const node = template.content.firstElementChild;
      if (node) log.appendChild(node);
      after = Math.max(after, Number(m.id));
    }
    afterField.value = String(after);
    if (messages.length) {
      save();
      scrollDown();
    }
  }

  async function post(url, body) {
    body.set("after", String(after));
    body.set("lang", composer.elements.lang.value);
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
      });
    } catch (error) {
      return;
    }
    if (response.status === 403) {
      window.location.reload(); // the session ended: show why
      return;
    }
    if (!response.ok) return;
    const data = await response.json();
    notice.textContent = data.notice || "";
    if (data.texts && data.lang) retitle(data.lang, data.texts);
    if (typeof data.open === "string" && openItems) openItems.innerHTML = data.open;
    // Polls answered by typing, or closed meanwhile: their buttons go too.
    for (const id of data.answered || []) {
      const old = log.querySelector('.msg.bot[data-id="' + Number(id) + '"]');
      if (old) old.querySelectorAll("form.choices").forEach((f) => f.remove());
    }
    add(data.messages || []);
  }

  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = composer.elements.text.value.trim();
    const photo = composer.elements.photo.files[0];
    if (!text && !photo) return;
    const body = new FormData(composer);
    mine(photo ? (text ? text + "\n" : "") + "📷 " + photo.name : text);
    composer.elements.text.value = "";
    composer.elements.photo.value = "";
    if (photoButton) photoButton.classList.remove("has-photo");
    fit();
    eventField.value = newEvent();
    save();
    await post(composer.action, body);
    composer.elements.text.focus();
  });

  // The input grows with what is typed, up to a few lines (the CSS caps it), never more.
  const textField = composer.elements.text;
  function fit() {
    textField.style.height = "auto";
    textField.style.height = textField.scrollHeight + 4 + "px";
  }
  textField.addEventListener("input", fit);
  const photoField = composer.elements.photo;
  const photoButton = composer.querySelector(".photo-button");
  photoField.addEventListener("change", () => {
    if (photoButton) photoButton.classList.toggle("has-photo", photoField.files.length > 0);
  });

  composer.elements.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  log.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("choices")) return;
    event.preventDefault();
    const submitter = event.submitter;
    const body = new FormData(form, submitter);
    const picked = Array.from(form.querySelectorAll('input[name="pick"]:checked'), (box) =>
      form.querySelector('label[for="' + box.id + '"]').textContent.trim(),
    );
    if (submitter && submitter.name === "choice") mine(submitter.textContent.trim());
    else if (picked.length) mine(picked.join(", "));
    else return;
    form.querySelector('input[name="event"]').value = newEvent();
    body.set("event", form.querySelector('input[name="event"]').value);
    answered(form);
    save();
    await post("/chat/send", body);
  });

  // The "open for you" buttons ask the bot, as if the person had typed the command.
  if (openItems) {
    openItems.addEventListener("submit", async (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      event.preventDefault();
      const submitter = event.submitter;
      if (!submitter) return;
      const body = new FormData(form, submitter);
      body.set("event", newEvent());
      mine(submitter.textContent.trim());
      save();
      await post("/chat/send", body);
    });
  }

  async function poll() {
    if (polling) return;
    polling = true;
    const body = new FormData();
    body.set("csrf", csrf);
    body.set("lang", composer.elements.lang.value);
    try {
      await post(composer.dataset.poll, body);
    } finally {
      polling = false;
    }
  }

  restore();
  save();
  scrollDown();
  poll();
  setInterval(() => {
    if (!document.hidden) poll();
  }, 2000);
})();
