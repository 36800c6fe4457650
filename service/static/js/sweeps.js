// The sweeps card: every sweep a page at a time; one sweep in detail with its trials ranked by
// the sweep's metric (hyperparameters, state, epochs run, metric, pruned), its best trial, and
// the trials' loss curves overlaid (each trial is a job: its record keeps its loss history).
// A sweep_state event of GET /events (a sweep created or ended) refreshes the list and the shown
// sweep, and so does a job_state event (trials are jobs); only while that stream is down are
// they fetched again on a timer while a sweep runs.

import { api } from "./api.js";
import { badge, facts, format, h, moreButton, show, table } from "./dom.js";
import { OverlayChart } from "./overlay_chart.js";
import { DEFAULT_PAGE, PagedView } from "./paging.js";

/** The states a job (a trial) ends in, carried by the page from the server's definition. */
const FINAL = new Set(document.body.dataset.finalStates.split(" "));
const path = (sweepId) => `/sweeps/${encodeURIComponent(sweepId)}`;
const RUNNING_REFRESH_MS = 2000;
/** The best trials whose loss curves are drawn (more would be unreadable, and fetched often). */
const CURVES = 10;

export class SweepsView extends PagedView {
  constructor({ list, detail, title }, { notify }) {
    super("/sweeps", DEFAULT_PAGE);
    this.list = list;
    this.detail = detail;
    this.title = title;
    this.notify = notify;
    this.shown = null; // the id of the sweep in detail
    this.chart = null;
    this.histories = new Map(); // job id -> {history, epochs} of an ended trial (kept)
    this.running = false; // whether the shown sweep is running
    this.timer = null;
    this.polling = true; // refresh on a timer while a sweep runs (without GET /events)
  }

  /** Refresh on a timer while a sweep runs (`on`), or only when asked (the page follows the
   * registry's events). */
  setPolling(on) {
    this.polling = on;
    this.schedule();
  }

  /** Fetch the shown sweeps (and the one in detail) again; while polling and one runs, again
   * shortly. */
  async refresh() {
    clearTimeout(this.timer);
    try {
      await super.refresh();
      if (this.shown) await this.showSweep(this.shown);
    } finally {
      this.schedule();
    }
  }

  /** The list's data-polling says whether it will be fetched again on the timer. */
  schedule() {
    clearTimeout(this.timer);
    const running = this.running || this.pages.items.some((s) => s.state === "running");
    const polling = this.polling && running;
    if (polling) {
      this.timer = setTimeout(() => this.refresh().catch(this.notify.error), RUNNING_REFRESH_MS);
    }
    this.list.dataset.polling = polling ? "on" : "off";
  }

  render() {
    const columns = [
      { title: "Sweep", cell: (s) => h("span", { class: "mono" }, format.shortId(s.sweep_id)) },
      { title: "State", cell: (s) => badge(s.state) },
      { title: "Kind", cell: (s) => s.kind },
      { title: "Trials", cell: (s) => s.trials_total, numeric: true },
      { title: "Metric", cell: (s) => s.metric },
      { title: "Created", cell: (s) => format.time(s.created_at) },
    ];
    show(
      this.list,
      table(columns, this.pages.items, {
        empty: "No sweeps yet (POST /sweeps, or nnservice sweep).",
        onSelect: (s) => this.choose(s.sweep_id).catch(this.notify.error),
        rowData: (s) => ({ sweepId: s.sweep_id, state: s.state }),
      }),
      this.pages.hasMore &&
        moreButton("sweeps-more", () => this.showMore().catch(this.notify.error)),
    );
  }

  /** Show a sweep in detail; kept current while it runs. */
  async choose(sweepId) {
    await this.showSweep(sweepId);
    this.schedule();
  }

  /** One sweep in detail: its trials, best first, and their loss curves. */
  async showSweep(sweepId) {
    const sweep = await api(path(sweepId));
    if (this.shown !== sweepId) {
      this.chart?.destroy();
      this.chart = null;
    }
    this.shown = sweepId;
    this.running = sweep.state === "running";
    this.title.textContent = sweepId;
    const best = sweep.best;
    const chartBox = this.chart?.container ?? h("div", { id: "sweep-chart", class: "chart" });
    show(
      this.detail,
      h(
        "div",
        { id: "sweep-shown", class: "job-status", dataset: { sweepId, state: sweep.state } },
        badge(sweep.state),
        this.running &&
          h("button", { type: "button", id: "sweep-cancel", onclick: () => this.cancel(sweepId) }, [
            "Cancel",
          ]),
      ),
      facts([
        ["Metric", `${sweep.metric} (${sweep.kind}, ${sweep.trials_total} trials)`],
        ["Dataset", h("span", { class: "mono" }, sweep.dataset_id)],
        [
          "Best trial",
          best
            ? h(
                "span",
                { id: "sweep-best" },
                `#${best.trial_number}: ${format.loss(best.value)}, model `,
                h("span", { class: "mono" }, best.model_id ?? "–"),
              )
            : "none yet",
        ],
        ["Promotion", sweep.promotion ? promotionText(sweep.promotion) : "–"],
      ]),
      h("div", { id: "sweep-trials", class: "scroll" }, trialsTable(sweep)),
      chartBox,
    );
    await this.drawCurves(sweep, chartBox);
  }

  /** The best trials' training losses by epoch, one series each (an ended trial's fetched
   * once). */
  async drawCurves(sweep, chartBox) {
    const curves = await Promise.all(
      sweep.trials.slice(0, CURVES).map(async (trial) => {
        let curve = this.histories.get(trial.job_id);
        if (!curve) {
          const job = await api(`/jobs/${encodeURIComponent(trial.job_id)}`);
          curve = { history: job.loss_history, epochs: job.progress.epoch };
          if (FINAL.has(job.state)) this.histories.set(trial.job_id, curve);
        }
        return { label: `#${trial.trial_number}`, ...curve };
      }),
    );
    this.chart ??= new OverlayChart(chartBox);
    this.chart.draw(curves);
  }

  async cancel(sweepId) {
    try {
      await api(`${path(sweepId)}/cancel`, { method: "POST" });
      await this.refresh();
    } catch (error) {
      this.notify.error(error);
    }
  }
}

/** The trials, best first (as the API ranks them): rank, number, swept values, state, epochs,
 * the metric, pruned. */
function trialsTable(sweep) {
  const columns = [
    { title: "Rank", cell: (t) => t.rank ?? "–", numeric: true },
    { title: "Trial", cell: (t) => `#${t.trial_number}` },
    {
      title: "Hyperparameters",
      cell: (t) =>
        Object.entries(t.params ?? {})
          .map(([name, value]) => `${name} ${format.value(value)}`)
          .join(", "),
      wrap: true,
    },
    {
      title: "State",
      cell: (t) => [badge(t.state), t.pruned ? [" ", badge("pruned", "cancelled")] : ""],
    },
    { title: "Epochs", cell: (t) => t.epochs ?? "–", numeric: true },
    { title: sweep.metric, cell: (t) => format.loss(t.value), numeric: true },
  ];
  return table(columns, sweep.trials, {
    empty: "No trials yet.",
    rowData: (t) => ({ jobId: t.job_id, trial: String(t.trial_number), pruned: String(t.pruned) }),
  });
}

function promotionText(promotion) {
  if (promotion.promoted) return `Promoted as ${promotion.alias}.`;
  return `Not promoted: ${promotion.reason}`;
}
