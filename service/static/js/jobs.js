// The jobs view: recent jobs with the promotion gate's decision, and one job followed live
// (progress events feed its loss curve), with Cancel or Remove record buttons.

import { api } from "./api.js";
import { LossChart } from "./chart.js";
import { badge, confirmButton, facts, format, h, moreButton, show, table } from "./dom.js";
import { followJob } from "./events.js";
import { PagedView } from "./paging.js";

/** The states a job ends in (the page carries them, from the server's own definition). */
const FINAL = new Set(document.body.dataset.finalStates.split(" "));
const ACTIVE_REFRESH_MS = 3000;
const PAGE_SIZE = 20;
const path = (jobId) => `/jobs/${encodeURIComponent(jobId)}`;

export class JobsView extends PagedView {
  constructor({ list, detail, title }, { onFinished, onShowModel, onFollow, onState, report }) {
    super("/jobs", PAGE_SIZE);
    this.list = list;
    this.detail = detail;
    this.title = title;
    this.onFinished = onFinished;
    this.onShowModel = onShowModel;
    this.onFollow = onFollow;
    this.onState = onState;
    this.report = report;
    this.stop = null;
    this.chart = null;
    this.timer = null;
    this.live = null; // the followed job as its latest event says: {job_id, state, epoch, ...}
    this.prompt = [...detail.childNodes]; // what the card says while it shows no job
    this.polling = true; // refresh on a timer while a job is active (without GET /events)
    this.actionsFor = null; // the job and state kind its card's buttons were drawn for
  }

  /** Refresh on a timer while a shown job is active (`on`), or only when asked (the page
   * follows the registry's events). */
  setPolling(on) {
    this.polling = on;
    if (on) this.schedule();
    else clearTimeout(this.timer);
  }

  /** Fetch the shown jobs again; while polling and any of them is active, again every few
   * seconds. */
  async refresh() {
    clearTimeout(this.timer);
    try {
      await super.refresh();
    } catch (error) {
      this.schedule(); // a failed fetch does not stop the refreshing
      throw error;
    }
  }

  render() {
    this.draw();
    this.schedule();
  }

  /** The shown jobs, the followed one as its event stream last said (the list's fetch may be
   * older): its row and its card always agree. */
  shownJobs() {
    const live = this.live;
    return this.pages.items.map((job) =>
      live && job.job_id === live.job_id
        ? {
            ...job,
            state: live.state ?? job.state,
            progress: { ...job.progress, epoch: live.epoch, epochs: live.epochs, loss: live.loss },
          }
        : job,
    );
  }

  schedule() {
    clearTimeout(this.timer);
    if (this.polling && this.shownJobs().some((job) => !FINAL.has(job.state))) {
      this.timer = setTimeout(() => this.refresh().catch(this.report), ACTIVE_REFRESH_MS);
    }
  }

  draw() {
    const jobs = this.shownJobs();
    const columns = [
      { title: "Job", cell: (j) => h("span", { class: "mono" }, format.shortId(j.job_id)) },
      { title: "State", cell: (j) => badge(j.state) },
      {
        title: "Epoch",
        cell: (j) => `${j.progress.epoch} / ${j.progress.epochs ?? "?"}`,
        numeric: true,
      },
      { title: "Loss", cell: (j) => format.loss(j.progress.loss), numeric: true },
      { title: "Promotion", cell: (j) => promotionBadge(j.promotion) },
      { title: "Created", cell: (j) => format.time(j.created_at) },
    ];
    show(
      this.list,
      table(columns, jobs, {
        empty: "No jobs yet.",
        onSelect: (job) => this.watch(job.job_id).catch(this.report),
        rowData: (job) => ({ jobId: job.job_id, state: job.state }),
      }),
      this.pages.hasMore && moreButton("jobs-more", () => this.showMore().catch(this.report)),
    );
  }

  /** Show one job; unless it has ended, follow its progress events until it does. */
  async watch(jobId) {
    this.stop?.();
    this.chart?.destroy();
    this.onFollow?.(jobId);
    const job = await api(path(jobId));
    this.title.textContent = job.job_id;
    this.fields = {
      state: h("span", { id: "job-state" }),
      epoch: h("span", { id: "job-epoch" }),
      loss: h("span", { id: "job-loss" }),
      validation: h("span", { id: "job-validation-loss" }),
      bar: h("progress", { id: "job-progress", max: 1, value: 0 }),
      outcome: h("div", { id: "job-outcome" }),
      actions: h("div", { id: "job-actions", class: "actions" }),
    };
    this.actionsFor = null;
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
      f.actions,
    );
    this.chart = new LossChart(chartBox, {
      validation: (job.hyperparameters?.validation_fraction ?? 0) > 0,
    });
    this.chart.reset(job.loss_history, job.progress.epoch);
    this.update({ ...job.progress, job_id: job.job_id, state: job.state });
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

  /** Show the followed job's latest state (from its record or an event) on its card and in its
   * list row. */
  update(data) {
    this.live = data;
    this.draw();
    this.onState?.(data.job_id, data.state, data.state == null || FINAL.has(data.state));
    const f = this.fields;
    f.state.replaceChildren(badge(data.state ?? "gone", data.state ?? "failed"));
    f.state.dataset.state = data.state ?? "gone";
    f.epoch.textContent = `${data.epoch ?? 0} / ${data.epochs ?? "?"}`;
    f.loss.textContent = format.loss(data.loss);
    f.validation.textContent = format.loss(data.validation_loss);
    f.bar.value = data.epochs ? (data.epoch ?? 0) / data.epochs : 0;
    this.drawActions(data.job_id, data.state);
  }

  /** Cancel while the job is queued or running; Remove record once it has ended. Drawn again
   * only when that changes (a progress event must not undo a half-confirmed click). */
  drawActions(jobId, state) {
    const ended = state == null || FINAL.has(state);
    const kind = `${jobId} ${ended}`;
    if (kind === this.actionsFor) return;
    this.actionsFor = kind;
    const button = ended
      ? state != null &&
        confirmButton("Remove record", () => this.purge(jobId), { id: "job-purge" })
      : h("button", { type: "button", id: "job-cancel", onclick: () => this.cancel(jobId) }, [
          "Cancel",
        ]);
    show(this.fields.actions, button);
  }

  async cancel(jobId) {
    try {
      await api(`${path(jobId)}/cancel`, { method: "POST" });
      await this.refresh();
    } catch (error) {
      this.report(error);
    }
  }

  /** Remove the ended job's record (its model stays); the card goes back to its prompt. */
  async purge(jobId) {
    try {
      await api(`${path(jobId)}?purge=true`, { method: "DELETE" });
      this.forget(jobId);
      await this.refresh();
    } catch (error) {
      this.report(error);
    }
  }

  /** The card back to its prompt if it shows `jobId` (its record is gone). */
  forget(jobId) {
    if (this.title.textContent !== jobId) return;
    this.stop?.();
    this.chart?.destroy();
    this.chart = null;
    this.live = null;
    this.title.textContent = "";
    show(this.detail, this.prompt);
  }

  async finish(jobId, data) {
    this.update(data);
    const job = await api(path(jobId));
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
    if (job.promotion) parts.push(h("p", { id: "job-promotion" }, promotionText(job.promotion)));
    const stopping = earlyStoppingText(job);
    if (stopping) {
      const epochs = { stoppedEpoch: job.stopped_epoch ?? "", bestEpoch: job.best_epoch };
      parts.push(h("p", { id: "job-early-stopping", dataset: epochs }, stopping));
    }
    show(this.fields.outcome, parts);
  }
}

/** The gate's decision in a list row: "promoted" (as which alias) or "not promoted" (why, on
 * hover); nothing before the job has succeeded. */
function promotionBadge(promotion) {
  if (!promotion) return "";
  const shown = promotion.promoted
    ? badge(`promoted: ${promotion.alias}`, "succeeded")
    : badge("not promoted", "cancelled");
  shown.title = promotionText(promotion);
  return shown;
}

/** The promotion gate's decision in words: the alias the model became, or why it did not. */
function promotionText(promotion) {
  if (promotion.promoted) return `Promoted as ${promotion.alias}.`;
  return `Not promoted: ${promotion.reason}`;
}

/** What early stopping did, from the job's record: where it stopped (or that it ran every
 * epoch) and the epoch whose weights the model kept; null without early stopping. */
function earlyStoppingText(job) {
  if (job.best_epoch == null) return null;
  const planned = job.progress.epochs ?? job.hyperparameters?.epochs ?? "?";
  const ran =
    job.stopped_epoch == null
      ? `Early stopping: ran all ${planned} epochs`
      : `Early stopping: stopped at epoch ${job.stopped_epoch} of ${planned}`;
  return `${ran}, kept epoch ${job.best_epoch}.`;
}
