// The models view: every snapshot with its metrics and a Promote button; one model in detail.

import { api } from "./api.js";
import { LossChart } from "./chart.js";
import { badge, facts, format, h, moreButton, show, table } from "./dom.js";
import { DEFAULT_PAGE, PagedView } from "./paging.js";

export class ModelsView extends PagedView {
  constructor({ list, detail, title }, { onLoaded, notify }) {
    super("/models", DEFAULT_PAGE);
    this.list = list;
    this.detail = detail;
    this.title = title;
    this.onLoaded = onLoaded;
    this.notify = notify;
    this.chart = null;
  }

  render() {
    const models = this.pages.items;
    const columns = [
      { title: "Model", cell: (m) => h("span", { class: "mono" }, format.shortId(m.id)) },
      { title: "Created", cell: (m) => format.time(m.created_at) },
      { title: "Train acc.", cell: (m) => format.percent(m.metrics.train_accuracy), numeric: true },
      {
        title: "Val. acc.",
        cell: (m) => format.percent(m.metrics.validation_accuracy),
        numeric: true,
      },
      { title: "Status", cell: (m) => this.status(m) },
      { title: "", cell: (m) => this.promoteButton(m) },
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
    if (model.status === "corrupt") return badge("corrupt", "failed");
    return model.is_latest ? badge("latest", "succeeded") : "";
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
    } catch (error) {
      this.notify.error(error);
    }
  }

  async showModel(modelId) {
    const snapshot = await api(`/models/${encodeURIComponent(modelId)}`);
    const training = snapshot.training || {};
    const hp = training.hyperparameters || {};
    this.title.textContent = snapshot.id;
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
