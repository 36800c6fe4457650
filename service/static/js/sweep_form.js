// The Sweeps card's form: POST /sweeps with a dataset, the metric, the promotion, the base
// hyperparameters (the training form's fields, hyperparameters.js) and a grid or a search. What
// may be swept, and every bound, choice and default, comes from the API's schemas in
// /openapi.json (SweepRequest, SweepGrid, SweepSpace, Search, Pruner), never from literals here.
// A refused request shows its reason beside the button, and the fields it names are marked.

import { api, errorFields } from "./api.js";
import { h, setOptions, show, table } from "./dom.js";
import { describeField, isNumber, loadSchemas, readFields } from "./hyperparameters.js";

const $ = (id) => document.getElementById(id);
const refName = (property) => property?.$ref?.split("/").pop();

/** `text` as the values of a JSON Schema `item`: comma-separated scalars, or (an array item
 * such as hidden_layers) lists separated by semicolons. A token that is not of the type is
 * sent as typed, for the API to name it. */
export function parseValues(text, item) {
  if (item.type === "array") {
    return text
      .split(";")
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => parseList(part, item.items ?? {}));
  }
  return text
    .split(/[,;]/)
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => parseValue(part, item));
}

function parseList(text, item) {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((part) => parseValue(part, item));
}

function parseValue(text, item) {
  if (isNumber(item)) {
    const number = Number(text);
    return Number.isNaN(number) ? text : number;
  }
  if (item.type === "boolean") {
    const word = text.toLowerCase();
    return word === "true" ? true : word === "false" ? false : text;
  }
  return text;
}

/** The non-empty fields of `form` described by the schema `name`, {property: value}. */
function readSchemaFields(form, schemas, name) {
  const values = {};
  for (const field of form.querySelectorAll(`[data-schema="${name}"]`)) {
    const text = field.value.trim();
    const property = schemas[name]?.properties?.[field.dataset.property] ?? {};
    if (text) values[field.dataset.property] = parseValue(text, property);
  }
  return values;
}

/** How a list of values of `item` is typed: its choices when it has some (as the API states
 * them), lists separated by semicolons for an array. */
function valuesHint(item) {
  if (item.enum) return item.enum.join(", ");
  if (item.type === "boolean") return "true, false";
  if (item.type === "array") return "2; 4; 8, 4";
  return "";
}

export class SweepForm {
  constructor(form, { onStarted }) {
    this.form = form;
    this.onStarted = onStarted;
    this.status = $("sweep-form-status");
    this.select = $("sweep-dataset");
    this.base = $("sweep-base");
    this.modes = [...form.querySelectorAll(".sweep-mode")];
    this.rows = []; // per swept hyperparameter: {name, item, grid, low, high, log, choices}
    for (const radio of form.querySelectorAll('input[name="sweep-kind"]')) {
      radio.addEventListener("change", () => this.showKind());
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.described = null;
    this.describe().catch((error) => this.showError(error));
  }

  /** Describe the fields with the API's schemas (once; again if that failed). */
  describe() {
    this.described ??= loadSchemas().then((schemas) => {
      for (const field of this.form.querySelectorAll("[data-schema]")) {
        const property = schemas[field.dataset.schema]?.properties?.[field.dataset.property];
        if (property) describeField(field, property);
      }
      const base = schemas.Hyperparameters?.properties ?? {};
      for (const field of this.base.querySelectorAll("[data-hyperparameter]")) {
        const name = field.dataset.hyperparameter;
        field.dataset.field = `hyperparameters.${name}`;
        if (base[name]) describeField(field, base[name]);
      }
      this.drawSwept(schemas);
      this.form.dataset.described = "true"; // (what the browser tests wait for)
      return schemas;
    });
    this.described.catch(() => {
      this.described = null;
    });
    return this.described;
  }

  /** Offer the stored datasets (keeping the current choice). */
  setDatasets(datasets) {
    const options = datasets.map((d) => [d.id, `${d.name} (${d.rows} rows)`]);
    setOptions(this.select, "choose a dataset", options);
  }

  kind() {
    return this.form.querySelector('input[name="sweep-kind"]:checked').value;
  }

  /** Only the chosen kind's fields show, and are sent and checked by the browser. */
  showKind() {
    for (const mode of this.modes) {
      const chosen = mode.dataset.kind === this.kind();
      mode.hidden = !chosen;
      mode.disabled = !chosen;
    }
  }

  /** One row per hyperparameter the API lets a sweep vary, in both kinds' tables. */
  drawSwept(schemas) {
    const grid = schemas.SweepGrid?.properties ?? {};
    const space = schemas.SweepSpace?.properties ?? {};
    this.rows = Object.entries(grid).map(([name, values]) => {
      const item = values.items ?? {};
      const range = schemas[refName(space[name])]?.properties ?? {};
      const input = (path, props = {}) =>
        h("input", { type: "text", dataset: { field: path }, ...props });
      const bound = (end) =>
        range[end] &&
        h("input", {
          type: "number",
          class: "bound",
          dataset: { field: `search.space.${name}.${end}` },
          step: range[end].type === "integer" ? "1" : "any",
          min: range[end].minimum,
          max: range[end].maximum,
          title: range[end].description,
        });
      const hint = valuesHint(item);
      return {
        name,
        item,
        title: item.description,
        grid: input(`grid.${name}`, { placeholder: hint, title: item.description }),
        low: bound("low"),
        high: bound("high"),
        log: range.log && h("input", { type: "checkbox", title: range.log.description }),
        choices: input(`search.space.${name}.choices`, { placeholder: hint }),
      };
    });
    const label = (row) => h("span", { class: "mono", title: row.title }, row.name);
    show(
      $("sweep-grid-table"),
      table(
        [
          { title: "Hyperparameter", cell: label },
          { title: "Values", cell: (row) => row.grid },
        ],
        this.rows,
        { rowData: (row) => ({ name: row.name }) },
      ),
    );
    show(
      $("sweep-space-table"),
      table(
        [
          { title: "Hyperparameter", cell: label },
          { title: "Low", cell: (row) => row.low || "–" },
          { title: "High", cell: (row) => row.high || "–" },
          { title: "Log", cell: (row) => row.log || "" },
          { title: "or choices", cell: (row) => row.choices },
        ],
        this.rows,
        { rowData: (row) => ({ name: row.name }) },
      ),
    );
  }

  /** The request body from the fields (empty ones left out: the API's defaults). */
  read(schemas) {
    const body = {
      dataset_id: this.select.value,
      hyperparameters: readFields(this.base, schemas.Hyperparameters?.properties ?? {}),
    };
    Object.assign(body, readSchemaFields(this.form, schemas, "SweepRequest"));
    const pruner = $("sweep-pruner").value;
    if (pruner) body.pruner = { kind: pruner };
    if (this.kind() === "grid") {
      body.grid = {};
      for (const row of this.rows) {
        const text = row.grid.value.trim();
        if (text) body.grid[row.name] = parseValues(text, row.item);
      }
      return body;
    }
    const search = { ...readSchemaFields(this.form, schemas, "Search"), space: {} };
    for (const row of this.rows) {
      const range = {};
      if (row.low?.value.trim()) range.low = parseValue(row.low.value.trim(), row.item);
      if (row.high?.value.trim()) range.high = parseValue(row.high.value.trim(), row.item);
      if (row.log?.checked) range.log = true;
      const choices = row.choices.value.trim();
      if (choices) range.choices = parseValues(choices, row.item);
      if (Object.keys(range).length) search.space[row.name] = range;
    }
    body.search = search;
    return body;
  }

  async submit() {
    const button = $("sweep-submit");
    button.disabled = true;
    this.clearMarks();
    this.status.className = "muted";
    this.status.textContent = "Starting the sweep…";
    try {
      const schemas = await this.describe();
      const accepted = await api("/sweeps", { method: "POST", json: this.read(schemas) });
      const queued = accepted.job_ids.length;
      this.status.textContent = `Sweep ${accepted.sweep_id} started, ${queued} trials queued.`;
      await this.onStarted(accepted.sweep_id);
    } catch (error) {
      this.showError(error);
    } finally {
      button.disabled = false;
    }
  }

  /** The error beside the button; each field the API named is marked with its message. */
  showError(error) {
    this.status.className = "error";
    this.status.textContent = error instanceof Error ? error.message : String(error);
    const named = errorFields(error?.body?.errors);
    for (const field of this.form.querySelectorAll("[data-field]")) {
      const path = field.dataset.field;
      const messages = named
        .filter(([at]) => at === path || at.startsWith(`${path}.`))
        .map(([, text]) => text);
      if (messages.length === 0) continue;
      field.dataset.help ??= field.title;
      field.setAttribute("aria-invalid", "true");
      field.title = messages.join(" ");
    }
  }

  clearMarks() {
    for (const field of this.form.querySelectorAll('[aria-invalid="true"]')) {
      field.removeAttribute("aria-invalid");
      field.title = field.dataset.help ?? "";
    }
  }
}
