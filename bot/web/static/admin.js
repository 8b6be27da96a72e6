// Live results on a poll's page: fetch the results part again every few seconds while the
// poll is open. Served from this origin (the Content-Security-Policy allows nothing else).
(() => {
  "use strict";
  const box = document.querySelector("[data-live]");
  if (!box) return;
  const url = box.dataset.live;
  let timer = null;
  async function refresh() {
    let response;
    try {
      response = await fetch(url, {
        credentials: "same-origin",
        headers: { "X-Requested-With": "fetch" },
      });
    } catch (error) {
      return;
    }
    if (!response.ok) return;
    const template = document.createElement("template");
    template.innerHTML = (await response.text()).trim();
    const fresh = template.content.firstElementChild;
    const old = document.getElementById("live");
    if (!fresh || !old) return;
    old.replaceWith(fresh);
    if (window.achterbanArrange) window.achterbanArrange(fresh);
    if (fresh.dataset.status !== "open" && timer !== null) clearInterval(timer);
  }
  timer = setInterval(refresh, 3000);
})();
