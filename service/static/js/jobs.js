// The jobs view: recent jobs, and one job followed live (progress events feed its loss curve).

import { api } from "./api.js";
import { LossChart } from "./chart.js";
import { badge, facts, format, h, moreButton, show, table } from "./dom.js";
import { followJob } from "./events.js";
import { PagedView } from "./paging.js";

const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const ACTIVE_REFRESH_MS = 3000;
const PAGE_SIZE = 20;

export class JobsView extends PagedView {
  constructor({ list, detail, title }, { onFinished, onShowModel, report }) {
    super("/jobs", PAGE_SIZE);
    this.list = list;
    this.detail = detail;
    this.title = title;
    this.onFinished = onFinished;
    this.onShowModel = onShowModel;
    this.report = report;
    this.stop = null;
    this.chart = null;
    this.timer = null;
  }

  /** Fetch the shown jobs again; while any of them is active, again every few seconds. */
  async refresh() {
    clearTimeout(this.timer);
    await super.refresh();
  }

  render() {
    const jobs = this.pages.items;
    const columns = [
      { title: "Job", cell: (j) => h("span", { class: "mono" }, format.shortId(j.job_id)) },
      { title: "State", cell: (j) => badge(j.state) },
      {
        title: "Epoch",
        cell: (j) => `${j.progress.epoch} / ${j.progress.epochs ?? "?"}`,
        numeric: true,
      },
      { title: "Loss", cell: (j) => format.loss(j.progress.loss), numeric: true },
      { title: "Created", cell: (j) => format.time(j.created_at) },
    ];
    show(
      this.list,
      table(columns, jobs, {
        empty: "No jobs yet.",
        onSelect: (job) => this.watch(job.job_id).catch(this.report),
        rowData: (job) => ({ jobId: job.job_id }),
      }),
      this.pages.hasMore && moreButton("jobs-more", () => this.showMore().catch(this.report)),
    );
    clearTimeout(this.timer);
    if (jobs.some((job) => !FINAL.has(job.state))) {
      this.timer = setTimeout(() => this.refresh().catch(this.report), ACTIVE_REFRESH_MS);
    }
  }

  /** Show one job; unless it has ended, follow its progress events until it does. */
  async watch(jobId) {
    this.stop?.();
    this.chart?.destroy();
    const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
    this.title.textContent = job.job_id;
    this.fields = {
      state: h("span", { id: "job-state" }),
      epoch: h("span", { id: "job-epoch" }),
      loss: h("span", { id: "job-loss" }),
      validation: h("span", { id: "job-validation-loss" }),
      bar: h("progress", { id: "job-progress", max: 1, value: 0 }),
      outcome: h("div", { id: "job-outcome" }),
    };
    const chartBox = h("div", { id: "job-chart", class: "chart", dataset: { points: "0" } });
    const f = this.fields;
    show(
      this.detail,
      h("div", { class: "job-status" }, f.state, f.bar),
      facts([
        ["Epoch", f.epoch],
        ["Loss", f.loss],
        ["Validation loss", f.validation],
      ]),
      chartBox,
      f.outcome,
    );
    this.chart = new LossChart(chartBox, {
      validation: (job.hyperparameters?.validation_fraction ?? 0) > 0,
    });
    this.chart.reset(job.loss_history, job.progress.epoch);
    this.update({ ...job.progress, state: job.state });
    if (FINAL.has(job.state)) {
      this.showOutcome(job);
      return;
    }
    this.stop = followJob(job.job_id, {
      onProgress: (data) => {
        this.update(data);
        this.chart.add(data.epoch, data.loss, data.validation_loss);
      },
      onEnd: (data) => this.finish(job.job_id, data).catch(this.report),
      onError: (error) => this.report(error),
    });
  }

  update(data) {
    const f = this.fields;
    f.state.replaceChildren(badge(data.state ?? "gone", data.state ?? "failed"));
    f.state.dataset.state = data.state ?? "gone";
    f.epoch.textContent = `${data.epoch ?? 0} / ${data.epochs ?? "?"}`;
    f.loss.textContent = format.loss(data.loss);
    f.validation.textContent = format.loss(data.validation_loss);
    f.bar.value = data.epochs ? (data.epoch ?? 0) / data.epochs : 0;
  }

  async finish(jobId, data) {
    this.update(data);
    const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
    this.chart.reset(job.loss_history, job.progress.epoch); // denser than the live points
    this.showOutcome(job);
    await this.refresh();
    this.onFinished(job);
  }

  showOutcome(job) {
    const parts = [];
    if (job.error) parts.push(h("p", { class: "error" }, job.error));
    if (job.model_id) {
      parts.push(
        h(
          "p",
          {},
          "Model ",
          h("span", { class: "mono", id: "job-model-id" }, job.model_id),
          " — train accuracy ",
          format.percent(job.metrics.train_accuracy),
          ", validation ",
          format.percent(job.metrics.validation_accuracy),
          " ",
          h(
            "button",
            { type: "button", onclick: () => this.onShowModel(job.model_id) },
            "Show model",
          ),
        ),
      );
    }
    show(this.fields.outcome, parts);
  }
}
