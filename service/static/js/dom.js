// Building DOM nodes from data safely: text always goes in as text nodes, never as HTML.

/** h("td", {class: "num"}, "0.25"): an element with attributes/listeners and children. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

/** Replace the children of `container` (strings become text). */
export function show(container, ...children) {
  container.replaceChildren();
  append(container, children);
}

/** Fill a <select> with an empty first option and [value, label] pairs, keeping the choice. */
export function setOptions(select, emptyLabel, options) {
  const chosen = select.value;
  show(
    select,
    h("option", { value: "" }, emptyLabel),
    options.map(([value, label]) => h("option", { value }, label)),
  );
  select.value = options.some(([value]) => value === chosen) ? chosen : "";
}

/** A table: columns are {title, cell(row) -> text or node, numeric?, wrap?}; rows may be
 * clickable. Cells stay on one line unless their column wraps (a list of badges, say). */
export function table(columns, rows, { empty = "Nothing yet.", onSelect, rowData } = {}) {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  const head = h(
    "tr",
    {},
    columns.map((c) => h("th", { class: cellClass(c) }, c.title)),
  );
  const body = rows.map((row) =>
    h(
      "tr",
      {
        class: onSelect ? "selectable" : "",
        dataset: rowData ? rowData(row) : undefined,
        onclick: onSelect ? (event) => event.target.closest("button") || onSelect(row) : undefined,
      },
      columns.map((c) => h("td", { class: cellClass(c) }, c.cell(row))),
    ),
  );
  return h("table", {}, h("thead", {}, head), h("tbody", {}, body));
}

function cellClass(column) {
  return [column.numeric && "num", column.wrap && "wrap"].filter(Boolean).join(" ");
}

/** The "Show more" button under a paged table (`id`, e.g. "jobs-more"); disabled while loading. */
export function moreButton(id, load) {
  const button = h("button", { type: "button", id, class: "show-more" }, "Show more");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await load();
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** Definition list from [label, value] pairs. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]),
  );
}

export const format = {
  loss: (x) => {
    if (x === null || x === undefined) return "–";
    return Math.abs(x) < 1e-3 && x !== 0 ? Number(x).toExponential(3) : Number(x).toPrecision(4);
  },
  percent: (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)} %`),
  share: (x) => `${Number((100 * x).toFixed(1))} %`,
  shortId: (id) => (id && id.length > 14 ? `${id.slice(0, 12)}…` : id || "–"),
  time: (iso) =>
    iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" }) : "–",
  value: (x) => (typeof x === "string" ? x : JSON.stringify(x)),
};

/** A state badge: queued, running, succeeded, failed, cancelled (colours in the CSS). */
export function badge(text, kind = text) {
  return h("span", { class: `badge badge-${kind}` }, text);
}

const CONFIRM_MS = 4000;

/**
 * A button for an action that cannot be undone (a delete): the first click asks "Sure?", a
 * second click within a few seconds runs `action`; otherwise the button goes back as it was.
 */
export function confirmButton(label, action, props = {}) {
  const button = h("button", { type: "button", ...props, class: `danger ${props.class ?? ""}` });
  button.textContent = label;
  let timer = null;
  const reset = () => {
    clearTimeout(timer);
    timer = null;
    button.textContent = label;
    button.classList.remove("confirming");
  };
  button.addEventListener("click", async () => {
    if (timer === null) {
      button.textContent = "Sure?";
      button.classList.add("confirming");
      timer = setTimeout(reset, CONFIRM_MS);
      return;
    }
    reset();
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
