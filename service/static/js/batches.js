// The batch predictions card: score a CSV/TSV file or a stored dataset with a model on the
// workers (POST /batch-predictions), then the batches a page at a time with their progress,
// accuracy and confusion matrix, the result CSV to download, Cancel, and Delete once ended. GET /events carries no
// batch events, so the list is fetched again on a timer only while a shown batch is active.

import { api, authHeaders, ApiError } from "./api.js";
import {
  badge,
  confirmButton,
  facts,
  format,
  h,
  moreButton,
  setOptions,
  show,
  table,
} from "./dom.js";
import { ModelChoice } from "./model_choice.js";
import { DEFAULT_PAGE, PagedView } from "./paging.js";
import { contentType } from "./train.js";

/** The states a batch ends in (a job's, carried by the page from the server's definition). */
const FINAL = new Set(document.body.dataset.finalStates.split(" "));
const ACTIVE_REFRESH_MS = 1000;
const path = (batchId) => `/batch-predictions/${encodeURIComponent(batchId)}`;
const $ = (id) => document.getElementById(id);
const GENDERS = ["F", "M"];

export class BatchesView extends PagedView {
  constructor({ form, list, detail }, { notify }) {
    super("/batch-predictions", DEFAULT_PAGE);
    this.list = list;
    this.detail = detail;
    this.notify = notify;
    this.status = $("batch-status");
    this.datasets = $("batch-dataset");
    this.model = new ModelChoice($("batch-model"));
    this.chosen = null; // the batch shown in detail: {id, state} as last fetched
    this.timer = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    // Batches submitted elsewhere (the CLI, the API) send no event: shown when asked.
    $("batches-refresh").addEventListener("click", () => this.refresh().catch(notify.error));
  }

  setModels(models) {
    this.model.setModels(models);
  }

  setAliases(aliases) {
    this.model.setAliases(aliases);
  }

  /** Offer the stored datasets (keeping the current choice). */
  setDatasets(datasets) {
    const options = datasets.map((d) => [d.id, `${d.name} (${d.rows} rows)`]);
    setOptions(this.datasets, "the file above", options);
  }

  /** Fetch the shown batches again; while any of them is active, again in a moment. */
  async refresh() {
    clearTimeout(this.timer);
    try {
      await super.refresh();
    } finally {
      this.schedule();
    }
  }

  /** Fetch again in a moment while a shown batch is active; the list's data-polling says
   * whether it will ("on") or not ("off"). */
  schedule() {
    clearTimeout(this.timer);
    const active = this.pages.items.some((b) => !FINAL.has(b.state));
    const chosenActive = this.chosen !== null && !FINAL.has(this.chosen.state);
    const polling = active || chosenActive;
    if (polling) {
      this.timer = setTimeout(() => this.refresh().catch(this.notify.error), ACTIVE_REFRESH_MS);
    }
    this.list.dataset.polling = polling ? "on" : "off";
  }

  render() {
    const batches = this.pages.items;
    const columns = [
      {
        title: "Batch",
        cell: (b) => h("span", { class: "mono" }, format.shortId(b.batch_prediction_id)),
      },
      { title: "State", cell: (b) => badge(b.state) },
      { title: "Rows", cell: (b) => rowsDone(b) },
      { title: "Model", cell: (b) => h("span", { class: "mono" }, format.shortId(b.model_id)) },
      { title: "Accuracy", cell: (b) => format.percent(b.accuracy), numeric: true },
      { title: "", cell: (b) => this.actions(b) },
    ];
    show(
      this.list,
      table(columns, batches, {
        empty: "No batch predictions yet.",
        onSelect: (b) => this.choose(b.batch_prediction_id).catch(this.notify.error),
        rowData: (b) => ({ batchId: b.batch_prediction_id, state: b.state }),
      }),
      this.pages.hasMore &&
        moreButton("batches-more", () => this.showMore().catch(this.notify.error)),
    );
    const shown = this.chosen && batches.find((b) => b.batch_prediction_id === this.chosen.id);
    if (shown) this.drawDetail(shown);
    else if (this.chosen && !FINAL.has(this.chosen.state)) {
      this.choose(this.chosen.id).catch(this.notify.error); // off the page: fetched by itself
    }
  }

  /** Cancel while queued or running; the result CSV once succeeded (`saveLabel` on its button);
   * Delete once ended. */
  actions(batch, saveLabel = "CSV") {
    const id = batch.batch_prediction_id;
    if (!FINAL.has(batch.state)) {
      const cancel = () => this.cancel(id);
      return h("button", { type: "button", class: "batch-cancel", onclick: cancel }, "Cancel");
    }
    const remove = confirmButton("Delete", () => this.remove(id), { class: "batch-delete" });
    if (batch.state === "succeeded") {
      const save = () => this.download(id);
      const props = { type: "button", class: "batch-download", onclick: save };
      return [h("button", props, saveLabel), " ", remove];
    }
    return remove;
  }

  /** DELETE the batch with its results; a 409 (it has not ended) shows in the notice. */
  async remove(batchId) {
    try {
      await api(path(batchId), { method: "DELETE" });
      this.notify.info(`Batch ${batchId} deleted.`);
      if (this.chosen?.id === batchId) {
        this.chosen = null;
        show(this.detail);
      }
      await this.refresh();
    } catch (error) {
      this.notify.error(error);
    }
  }

  /** Show one batch in detail (its record fetched now; kept current while it is listed). */
  async choose(batchId) {
    const batch = await api(path(batchId));
    this.drawDetail(batch);
    this.schedule();
  }

  drawDetail(batch) {
    this.chosen = { id: batch.batch_prediction_id, state: batch.state };
    const accuracy = batch.has_gender ? format.percent(batch.accuracy) : "no genders given";
    const source = batch.dataset_id
      ? h("span", { class: "mono" }, batch.dataset_id)
      : "an uploaded file";
    show(
      this.detail,
      h(
        "div",
        {
          id: "batch-shown",
          class: "job-status",
          dataset: { batchId: batch.batch_prediction_id, state: batch.state },
        },
        h("span", { class: "mono" }, batch.batch_prediction_id),
        badge(batch.state),
        rowsDone(batch, "batch-rows"),
      ),
      facts([
        ["Model", modelName(batch)],
        ["Input", source],
        ["Submitted", format.time(batch.created_at)],
        ["Chunks", `${batch.chunks_done} / ${batch.chunks_total} of ${batch.chunk_rows} rows`],
        ["Accuracy", h("span", { id: "batch-accuracy" }, accuracy)],
      ]),
      batch.error && h("p", { class: "error" }, batch.error),
      batch.has_gender && batch.confusion_matrix && confusion(batch.confusion_matrix),
      h("div", { class: "actions" }, this.actions(batch, "Download CSV")),
    );
  }

  /** The result CSV: fetched with the key (a plain link cannot send it), then saved. */
  async download(batchId) {
    try {
      const response = await fetch(`${path(batchId)}/result`, { headers: authHeaders() });
      if (!response.ok) {
        let body = null;
        try {
          body = await response.json();
        } catch {
          body = null;
        }
        throw new ApiError(response.status, body);
      }
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: `${batchId}.csv`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000); // the save has started by then
    } catch (error) {
      this.notify.error(error);
    }
  }

  async cancel(batchId) {
    try {
      await api(`${path(batchId)}/cancel`, { method: "POST" });
      await this.refresh();
    } catch (error) {
      this.notify.error(error);
    }
  }

  /** The input: a new upload (stored with the batch only), or the chosen dataset as JSON. */
  request() {
    const file = $("batch-file").files[0];
    const model = this.model.read();
    if (file) {
      const query = new URLSearchParams({ ...model, units: $("batch-units").value });
      const upload = { method: "POST", body: file, contentType: contentType(file) };
      return [`/batch-predictions?${query}`, upload];
    }
    if (!this.datasets.value) throw new Error("Choose a CSV/TSV file or a stored dataset.");
    const json = { dataset_id: this.datasets.value, ...model };
    return ["/batch-predictions", { method: "POST", json }];
  }

  async submit() {
    const button = $("batch-submit");
    button.disabled = true;
    try {
      const [target, options] = this.request();
      this.status.textContent = "Submitting…";
      const accepted = await api(target, options);
      const { batch_prediction_id: id, rows_total: rows } = accepted;
      this.status.textContent = `Batch ${id} submitted: ${rows} rows.`;
      this.chosen = { id, state: "queued" };
      await this.refresh();
    } catch (error) {
      this.status.textContent = "";
      this.notify.error(error);
    } finally {
      button.disabled = false;
    }
  }
}

/** Rows done of all, as a bar and in numbers. */
function rowsDone(batch, id) {
  return h(
    "span",
    { class: "batch-progress", id },
    h("progress", { max: batch.rows_total || 1, value: batch.rows_done }),
    h("span", { class: "batch-rows-text" }, `${batch.rows_done} / ${batch.rows_total}`),
  );
}

/** The scoring model, and the alias that named it. */
function modelName(batch) {
  return [
    h("span", { class: "mono", title: batch.model_id }, format.shortId(batch.model_id)),
    batch.alias && [" ", badge(batch.alias, "alias")],
  ];
}

/** Rows by true gender (rows) and predicted gender (columns). */
function confusion(matrix) {
  return h(
    "table",
    { id: "batch-confusion", class: "confusion" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "true \\ predicted"),
        GENDERS.map((g) => h("th", { class: "num" }, g)),
      ),
    ),
    h(
      "tbody",
      {},
      GENDERS.map((truth) =>
        h(
          "tr",
          {},
          h("th", {}, truth),
          GENDERS.map((predicted) =>
            h("td", { class: "num", dataset: { truth, predicted } }, matrix[truth][predicted]),
          ),
        ),
      ),
    ),
  );
}
