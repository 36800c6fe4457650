// The models view: every snapshot with its metrics, the aliases naming it (with their share of
// a split), Promote and Delete buttons; one model in detail.

import { aliasesByModel } from "./aliases.js";
import { api } from "./api.js";
import { LossChart } from "./chart.js";
import { badge, confirmButton, facts, format, h, moreButton, show, table } from "./dom.js";
import { DEFAULT_PAGE, PagedView } from "./paging.js";

export class ModelsView extends PagedView {
  constructor({ list, detail, title }, { onLoaded, onPromoted, notify }) {
    super("/models", DEFAULT_PAGE);
    this.list = list;
    this.detail = detail;
    this.title = title;
    this.onLoaded = onLoaded;
    this.onPromoted = onPromoted;
    this.notify = notify;
    this.chart = null;
    this.prompt = [...detail.childNodes]; // what the card says while it shows no model
    this.rendered = false;
    this.aliases = new Map(); // model id -> [{name, share}]
    this.shown = null; // the model in detail
  }

  /** The aliases as GET /aliases lists them: each model's row names those naming it. */
  setAliases(aliases) {
    this.aliases = aliasesByModel(aliases);
    if (this.rendered) this.render();
  }

  render() {
    this.rendered = true;
    const models = this.pages.items;
    const columns = [
      { title: "Model", cell: (m) => h("span", { class: "mono" }, format.shortId(m.id)) },
      { title: "Created", cell: (m) => format.time(m.created_at) },
      {
        title: "Accuracy train / val.",
        cell: (m) =>
          h(
            "span",
            { class: "nowrap" },
            `${format.percent(m.metrics.train_accuracy)} / `,
            format.percent(m.metrics.validation_accuracy),
          ),
        numeric: true,
        wrap: true,
      },
      { title: "Aliases", cell: (m) => [this.status(m), this.aliasBadges(m)], wrap: true },
      { title: "", cell: (m) => [this.promoteButton(m), " ", this.deleteButton(m)] },
    ];
    show(
      this.list,
      table(columns, models, {
        empty: "No models yet: train one.",
        onSelect: (model) => this.showModel(model.id).catch(this.notify.error),
        rowData: (model) => ({ modelId: model.id, latest: String(model.is_latest) }),
      }),
      this.pages.hasMore &&
        moreButton("models-more", () => this.showMore().catch(this.notify.error)),
    );
    this.onLoaded(models);
  }

  status(model) {
    return model.status === "corrupt" ? badge("corrupt", "failed") : "";
  }

  /** A badge per alias naming the model: "latest", or "canary 10 %" for a share of a split. */
  aliasBadges(model) {
    const named = this.aliases.get(model.id) ?? [];
    return h(
      "span",
      { class: "aliases" },
      named.map(({ name, share }) =>
        badge(share === null ? name : `${name} ${format.share(share)}`, "alias"),
      ),
    );
  }

  deleteButton(model) {
    return confirmButton("Delete", () => this.remove(model.id), { class: "delete" });
  }

  /** DELETE the model; a 409 (an alias or an unfinished job needs it) says which in the notice. */
  async remove(modelId) {
    try {
      await api(`/models/${encodeURIComponent(modelId)}`, { method: "DELETE" });
      this.notify.info(`${modelId} deleted.`);
      if (this.shown === modelId) this.forget();
      await this.refresh();
    } catch (error) {
      this.notify.error(error);
    }
  }

  /** A model was deleted (an event): its detail goes if it is the one shown. */
  deleted(modelId) {
    if (this.shown === modelId) this.forget();
  }

  /** The detail card back to its prompt (its model is gone). */
  forget() {
    this.chart?.destroy();
    this.chart = null;
    this.shown = null;
    this.title.textContent = "";
    show(this.detail, this.prompt);
  }

  promoteButton(model) {
    const usable = model.status === "ok" && !model.is_latest;
    return h(
      "button",
      {
        type: "button",
        class: "promote",
        disabled: !usable,
        onclick: () => this.promote(model.id),
      },
      "Promote",
    );
  }

  async promote(modelId) {
    try {
      await api(`/models/${encodeURIComponent(modelId)}/promote`, { method: "POST" });
      this.notify.info(`${modelId} is now the latest model.`);
      await this.refresh();
      this.onPromoted();
    } catch (error) {
      this.notify.error(error);
    }
  }

  async showModel(modelId) {
    const snapshot = await api(`/models/${encodeURIComponent(modelId)}`);
    const training = snapshot.training || {};
    const hp = training.hyperparameters || {};
    this.title.textContent = snapshot.id;
    this.shown = snapshot.id;
    this.chart?.destroy();
    const chartBox = h("div", { id: "model-chart", class: "chart", dataset: { points: "0" } });
    show(
      this.detail,
      chartBox,
      h("h3", {}, "Metrics"),
      facts([
        ["Train accuracy", format.percent(training.train_accuracy)],
        ["Validation accuracy", format.percent(training.validation_accuracy)],
        ["Final loss", format.loss(training.final_loss)],
      ]),
      h("h3", {}, "Training record"),
      facts([
        ["Layers", (snapshot.layer_sizes || []).join(" – ")],
        ["Loss function", snapshot.loss],
        ["Epochs", training.epochs ?? "–"],
        ["Seed", training.seed ?? "–"],
        ["Dataset", h("span", { class: "mono" }, training.dataset_id ?? "–")],
        ["Job", h("span", { class: "mono" }, training.job_id ?? "–")],
        [
          "Started from",
          h("span", { class: "mono" }, training.initial_model_id ?? "random weights"),
        ],
        ["Created", format.time(snapshot.created_at)],
      ]),
      h("h3", {}, "Hyperparameters"),
      facts(Object.entries(hp).map(([name, value]) => [name, format.value(value)])),
    );
    this.chart = new LossChart(chartBox, { height: 180, validation: false });
    this.chart.reset(training.loss_history || []);
  }
}
