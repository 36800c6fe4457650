// The dashboard: wires the views together and loads them.

import { setupKeyForm } from "./apikey.js";
import { DatasetsView } from "./datasets.js";
import { JobsView } from "./jobs.js";
import { ModelsView } from "./models.js";
import { PictureView } from "./picture.js";
import { PredictForm } from "./predict.js";
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
  { onLoaded: (list) => predict.setModels(list), notify },
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
  onLoaded: (list) => train.setDatasets(list),
  notify,
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

async function refreshAll() {
  const results = await Promise.allSettled([datasets.refresh(), jobs.refresh(), models.refresh()]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) notify.error(failed.reason);
  else notify.clearError();
}

new PictureView($("picture-form"), $("picture-canvas"), {
  legend: $("picture-legend"),
  status: $("picture-status"),
  notify,
});

setupKeyForm(refreshAll);
refreshAll();
