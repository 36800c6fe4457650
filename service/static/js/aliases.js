// The aliases view: every alias with the model or the split it names and who moved it last, a
// form that points an alias at a model, and one alias's history (newest change first).

import { api } from "./api.js";
import { confirmButton, format, h, setOptions, show, table } from "./dom.js";

/** The alias that POST /models/{id}/promote moves; the API refuses to remove it. */
const LATEST = "latest";
const path = (name) => `/aliases/${encodeURIComponent(name)}`;

/** A split's members as "m-a… 90 %, m-b… 10 %"; one model as its short id. */
export function namedModels(alias) {
  if (alias.removed) return h("span", { class: "muted" }, "removed");
  if (!alias.split) return h("span", { class: "mono" }, format.shortId(alias.model_id));
  const total = alias.split.reduce((sum, m) => sum + m.weight, 0);
  return h(
    "span",
    { class: "split" },
    alias.split.map((m, i) => [
      i > 0 && ", ",
      h(
        "span",
        { class: "member" },
        h("span", { class: "mono" }, format.shortId(m.model_id)),
        ` ${format.share(m.weight / total)}`,
      ),
    ]),
  );
}

/** model id -> [{name, share}] of the aliases naming it (share null unless in a split). */
export function aliasesByModel(aliases) {
  const byModel = new Map();
  for (const alias of aliases) {
    const total = (alias.split ?? []).reduce((sum, m) => sum + m.weight, 0);
    const members = alias.split ?? [{ model_id: alias.model_id, weight: null }];
    for (const m of members) {
      const share = m.weight === null ? null : m.weight / total;
      if (!byModel.has(m.model_id)) byModel.set(m.model_id, []);
      byModel.get(m.model_id).push({ name: alias.name, share });
    }
  }
  return byModel;
}

export class AliasesView {
  constructor({ list, form, history, title }, { onLoaded, notify }) {
    this.list = list;
    this.history = history;
    this.title = title;
    this.onLoaded = onLoaded;
    this.notify = notify;
    this.items = [];
    this.shown = null; // the alias whose history is shown
    this.nameField = form.querySelector("#alias-name");
    this.modelSelect = form.querySelector("#alias-model");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.point().catch(notify.error);
    });
  }

  async refresh() {
    this.items = await api("/aliases");
    this.render();
  }

  render() {
    const columns = [
      { title: "Alias", cell: (a) => h("span", { class: "alias-name" }, a.name) },
      { title: "Names", cell: (a) => namedModels(a), wrap: true },
      { title: "Changed", cell: (a) => format.time(a.changed_at) },
      { title: "By", cell: (a) => a.changed_by },
      {
        title: "",
        cell: (a) =>
          a.name !== LATEST &&
          confirmButton("Remove", () => this.remove(a.name), { class: "remove-alias" }),
      },
    ];
    show(
      this.list,
      table(columns, this.items, {
        empty: "No aliases yet: promote a model.",
        onSelect: (alias) => this.showHistory(alias.name).catch(this.notify.error),
        rowData: (alias) => ({ alias: alias.name }),
      }),
    );
    this.onLoaded(this.items);
  }

  /** Offer the usable models in the form (keeping the current choice). */
  setModels(models) {
    const usable = models.filter((m) => m.status === "ok");
    setOptions(
      this.modelSelect,
      "choose a model",
      usable.map((m) => [m.id, m.id]),
    );
  }

  async point() {
    const name = this.nameField.value.trim();
    const modelId = this.modelSelect.value;
    if (!name || !modelId) throw new Error("Name the alias and choose a model.");
    await api(path(name), { method: "PUT", json: { model_id: modelId } });
    this.notify.info(`${name} now names ${modelId}.`);
    await this.refresh();
    if (this.shown === name) await this.showHistory(name);
  }

  async remove(name) {
    try {
      await api(path(name), { method: "DELETE" });
      this.notify.info(`Alias ${name} removed.`);
      await this.refresh();
      if (this.shown === name) await this.showHistory(name);
    } catch (error) {
      this.notify.error(error);
    }
  }

  /** Show the alias's changes, newest first: what it named from then on, when, and by whom. */
  async showHistory(name) {
    const changes = await api(`${path(name)}/history`);
    this.shown = name;
    this.title.textContent = name;
    const columns = [
      { title: "When", cell: (c) => format.time(c.changed_at) },
      { title: "Names", cell: (c) => namedModels(c), wrap: true },
      { title: "By", cell: (c) => h("span", { class: "changed-by" }, c.changed_by) },
    ];
    show(
      this.history,
      table(columns, changes, {
        empty: "No changes.",
        rowData: (c) => ({ seq: String(c.seq) }),
      }),
    );
  }

  /** An alias changed (an event): its history is shown again if it is the one shown. */
  async changed(name) {
    if (name === this.shown) await this.showHistory(name);
  }
}
