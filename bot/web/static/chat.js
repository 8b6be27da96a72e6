// The web chat page. Without this script the page still works (plain forms and reloads);
// with it, messages are sent with fetch and new ones are asked for every few seconds.
// Messages arrive as HTML rendered (and escaped) by the server; the person's own text is
// inserted with textContent only.
(() => {
  "use strict";
  const log = document.getElementById("log");
  const composer = document.getElementById("composer");
  const notice = document.getElementById("notice");
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

  // The conversation so far lives in this tab only (sessionStorage); the server forgets a
  // message once it has been shown.
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
    const present = new Set(Array.from(log.children, (n) => n.dataset.id).filter(Boolean));
    const first = log.firstElementChild;
    for (const node of Array.from(template.content.children)) {
      if (node.dataset.id && present.has(node.dataset.id)) continue;
      log.insertBefore(node, first);
    }
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
    eventField.value = newEvent();
    save();
    await post(composer.action, body);
    composer.elements.text.focus();
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
    save();
    await post("/chat/send", body);
  });

  async function poll() {
    if (polling) return;
    polling = true;
    const body = new FormData();
    body.set("csrf", csrf);
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
