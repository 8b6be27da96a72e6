// Manual redaction: drag a rectangle on the photo to fill the x / y / width / height fields
// (in pixels of the processed photo). Keyboard users type the numbers; the form is the same.
(() => {
  "use strict";
  const stage = document.querySelector("[data-redact]");
  const form = document.getElementById("redact-form");
  const img = document.getElementById("redact-photo");
  const draft = document.getElementById("redact-draft");
  if (!stage || !form || !img || !draft) return;
  const [width, height] = stage.dataset.redact.split("x").map(Number);
  const field = (name) => form.elements.namedItem(name);
  let start = null;

  function point(event) {
    const box = img.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * width;
    const y = ((event.clientY - box.top) / box.height) * height;
    return {
      x: Math.round(Math.min(Math.max(x, 0), width)),
      y: Math.round(Math.min(Math.max(y, 0), height)),
    };
  }

  function show(a, b) {
    const x = Math.min(a.x, b.x);
    const y = Math.min(a.y, b.y);
    const w = Math.abs(a.x - b.x);
    const h = Math.abs(a.y - b.y);
    draft.setAttribute("x", x);
    draft.setAttribute("y", y);
    draft.setAttribute("width", w);
    draft.setAttribute("height", h);
    return { x, y, w, h };
  }

  stage.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    start = point(event);
    stage.setPointerCapture(event.pointerId);
    show(start, start);
  });
  stage.addEventListener("pointermove", (event) => {
    if (start) show(start, point(event));
  });
  stage.addEventListener("pointerup", (event) => {
    if (!start) return;
    const r = show(start, point(event));
    start = null;
    field("x").value = r.x;
    field("y").value = r.y;
    field("width").value = r.w;
    field("height").value = r.h;
    field("width").focus();
  });

  // Typing in the fields moves the draft rectangle too, so what is typed can be seen.
  form.addEventListener("input", () => {
    const n = (name) => Number(field(name).value) || 0;
    show({ x: n("x"), y: n("y") }, { x: n("x") + n("width"), y: n("y") + n("height") });
  });
})();
