// The dashboard: wires the views together, loads them, and keeps them current by following the
// registry's events (GET /events); without that stream, the jobs and sweeps refresh on a timer.

import { AliasesView } from "./aliases.js";
import { setupKeyForm } from "./apikey.js";
import { BatchesView } from "./batches.js";
import { DatasetsView } from "./datasets.js";
import { JobsView } from "./jobs.js";
import { ModelsView } from "./models.js";
import { PictureView } from "./picture.js";
import { PredictForm } from "./predict.js";
import { followRegistry } from "./registry_events.js";
import { SweepForm } from "./sweep_form.js";
import { SweepsView } from "./sweeps.js";
import { TrainForm } from "./train.js";

const $ = (id) => document.getElementById(id);
const noticeBox = $("notice");

const notify = {
  error(error) {
    noticeBox.textContent = error instanceof Error ? error.message : String(error);
    noticeBox.className = "notice notice-error";
    noticeBox.hidden = false;
  },
  clearError() {
    if (noticeBox.classList.contains("notice-error")) noticeBox.hidden = true;
  },
  info(message) {
    noticeBox.textContent = message;
    noticeBox.className = "notice notice-info";
    noticeBox.hidden = false;
  },
};
noticeBox.addEventListener("click", () => {
  noticeBox.hidden = true;
});

const predict = new PredictForm($("predict-form"), $("predict-result"), { notify });
const models = new ModelsView(
  { list: $("models-table"), detail: $("model-detail"), title: $("model-title") },
  {
    onLoaded: (list) => {
      predict.setModels(list);
      aliases.setModels(list);
      batches.setModels(list);
      picture.setModels(list);
    },
    onPromoted: () => aliases.refresh().catch(notify.error),
    notify,
  },
);
const aliases = new AliasesView(
  {
    list: $("aliases-table"),
    form: $("alias-form"),
    history: $("alias-history"),
    title: $("alias-title"),
  },
  {
    onLoaded: (list) => {
      models.setAliases(list);
      predict.setAliases(list);
      batches.setAliases(list);
    },
    notify,
  },
);
const train = new TrainForm($("train-form"), {
  onUploaded: () => datasets.refresh().catch(notify.error),
  onStarted: async (jobId) => {
    await jobs.watch(jobId);
    await jobs.refresh();
  },
  notify,
});
const datasets = new DatasetsView($("datasets-table"), {
  onLoaded: (list) => {
    train.setDatasets(list);
    sweepForm.setDatasets(list);
    batches.setDatasets(list);
    picture.setDatasets(list);
  },
  notify,
});
const batches = new BatchesView(
  { form: $("batch-form"), list: $("batches-table"), detail: $("batch-detail") },
  { notify },
);
const sweeps = new SweepsView(
  { list: $("sweeps-table"), detail: $("sweep-detail"), title: $("sweep-title") },
  { notify },
);
/** A sweep started from the form opens in the Sweep card. */
const sweepForm = new SweepForm($("sweep-form"), {
  onStarted: async (sweepId) => {
    await sweeps.refresh();
    await sweeps.choose(sweepId);
  },
});
const jobs = new JobsView(
  { list: $("jobs-table"), detail: $("job-detail"), title: $("job-title") },
  {
    onFinished: (job) => {
      models.refresh().catch(notify.error);
      if (job.model_id) models.showModel(job.model_id).catch(notify.error);
    },
    onShowModel: (modelId) => models.showModel(modelId).catch(notify.error),
    onFollow: (jobId) => train.following(jobId),
    onState: (jobId, state, ended) => train.showJob(jobId, state, ended),
    report: notify.error,
  },
);

/** The lists, by the name the registry's events are mapped to (batches have no events: that
 * view refreshes itself while one is active). */
const LISTS = { models, aliases, datasets, jobs, batches, sweeps };
/** The lists each kind of registry event changes (an alias marks its models in their list). */
const AFFECTS = {
  model_created: ["models"],
  model_deleted: ["models"],
  dataset_created: ["datasets"],
  dataset_deleted: ["datasets"],
  alias_changed: ["aliases", "models"],
  job_state: ["jobs", "sweeps"], // a sweep's trials are jobs
  sweep_state: ["sweeps"],
  reset: Object.keys(LISTS), // events were pruned before they could be read: fetch everything
};
/** Events that come in a burst (a job ends: its state, its model, an alias) cost one fetch of
 * each list they change. */
const COALESCE_MS = 100;
/** Lists are loaded without waiting longer than this for the event stream to open. */
const OPEN_WAIT_MS = 3000;

/** Fetch the lists `names` again; a failure shows in the notice. Returns whether all loaded. */
async function refresh(names) {
  const results = await Promise.allSettled(names.map((name) => LISTS[name].refresh()));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) notify.error(failed.reason);
  return !failed;
}

const picture = new PictureView($("picture-form"), $("picture-canvas"), {
  legend: $("picture-legend"),
  status: $("picture-status"),
  notify,
});

/** Load every list (at the start, with a new key, on a fresh stream); an error shown before
 * (no key, say) goes once they all load. An event's refresh leaves the notice alone: it may
 * say why the user's last action failed. */
async function refreshAll() {
  if (await refresh(Object.keys(LISTS))) notify.clearError();
}

const stale = new Set();
let flushTimer = null;
let seen = null; // the id of the newest event received

/** Refresh `names` shortly; once done, the body's data-events-applied names the newest event
 * the lists now reflect. */
function refreshSoon(names) {
  for (const name of names) stale.add(name);
  if (flushTimer === null) {
    flushTimer = setTimeout(async () => {
      flushTimer = null;
      const names = [...stale];
      const upTo = seen;
      stale.clear();
      await refresh(names);
      if (upTo !== null) document.body.dataset.eventsApplied = String(upTo);
    }, COALESCE_MS);
  }
}

function onRegistryEvent(type, data) {
  if (data.id !== undefined) seen = data.id;
  refreshSoon(AFFECTS[type] ?? []);
  if (type === "alias_changed") aliases.changed(data.alias).catch(notify.error);
  if (type === "model_deleted") models.deleted(data.model_id);
}

/** "live" while the event stream is open, "polling" without it (body's data-registry-events). */
function setMode(mode) {
  document.body.dataset.registryEvents = mode;
  jobs.setPolling(mode !== "live");
  sweeps.setPolling(mode !== "live");
}

let stopFollowing = null;
let unanswered = null; // loads the lists if the stream does not answer soon
let streamsOpened = 0; // in the body's data-registry-streams, once each one's lists are loaded

/** (Re)start following GET /events with the current key; the lists load once it answers. */
function follow() {
  stopFollowing?.();
  clearTimeout(unanswered);
  unanswered = setTimeout(refreshAll, OPEN_WAIT_MS);
  stopFollowing = followRegistry({
    onOpen: async ({ resumed }) => {
      clearTimeout(unanswered);
      setMode("live");
      if (!resumed) await refreshAll(); // changes before the stream opened are not replayed
      streamsOpened += 1;
      document.body.dataset.registryStreams = String(streamsOpened);
    },
    onEvent: onRegistryEvent,
    onLost: () => setMode("polling"),
    onUnavailable: () => {
      clearTimeout(unanswered);
      setMode("polling");
      refreshAll();
    },
  });
}

setupKeyForm(follow);
follow();
