// Tables on a phone: a table with four or more columns becomes a stack of rows, each cell
// with its column's name in front (app.css shows it so below 40rem only). Without this
// script the table scrolls sideways inside its box instead; the page itself never does.
(() => {
  "use strict";

  function stack(table, heads) {
    table.classList.add("stacked");
    // display: block drops a table's meaning for screen readers; the roles keep it.
    table.setAttribute("role", "table");
    table.querySelectorAll("thead, tbody").forEach((group) => group.setAttribute("role", "rowgroup"));
    table.querySelectorAll("tr").forEach((row) => row.setAttribute("role", "row"));
    table.querySelectorAll("thead th").forEach((th) => th.setAttribute("role", "columnheader"));
    for (const row of table.querySelectorAll("tbody tr")) {
      let column = 0;
      for (const cell of Array.from(row.children)) {
        const name = heads[column] || "";
        column += cell.colSpan || 1;
        cell.setAttribute("role", cell.tagName === "TH" ? "rowheader" : "cell");
        const empty = !cell.textContent.trim() && !cell.querySelector("img, svg, input, button");
        if (empty) cell.classList.add("cell-empty"); // nothing to say: no label with a blank
        const value = document.createElement("div");
        value.className = "cell-value";
        value.append(...Array.from(cell.childNodes));
        if (name && !empty) {
          const label = document.createElement("span");
          label.className = "cell-label";
          label.setAttribute("aria-hidden", "true");
          label.textContent = name;
          cell.append(label);
        }
        cell.append(value);
      }
    }
  }

  function arrange(root) {
    for (const table of root.querySelectorAll(".table-wrap > table")) {
      if (table.dataset.arranged) continue;
      table.dataset.arranged = "1";
      // A short value (a date, a count, a status) stays on one line, so the room goes to the
      // column with sentences in it instead of to "4 dec / 2026 / 16:16".
      for (const cell of table.querySelectorAll("tbody td")) {
        if (cell.textContent.trim().length <= 18) cell.classList.add("cell-short");
      }
      const heads = Array.from(table.querySelectorAll("thead th"), (th) => th.textContent.trim());
      if (heads.length >= 4) stack(table, heads);
    }
  }

  arrange(document);
  // A part of the page fetched again (the live poll results) is arranged as it comes in.
  window.achterbanArrange = arrange;
})();
