// The training form: upload a CSV/TSV (or pick a stored dataset), then POST /train. Its
// hyperparameter fields are described by the API (hyperparameters.js).

import { api } from "./api.js";
import { setOptions } from "./dom.js";
import { describeFields, loadHyperparameters, readFields } from "./hyperparameters.js";

const value = (id) => document.getElementById(id).value.trim();
const checked = (id) => document.getElementById(id).checked;

/** The Content-Type an upload of `file` is sent with (TSV by its type or name, else CSV). */
export function contentType(file) {
  const tsv = file.type === "text/tab-separated-values" || /\.(tsv|tab)$/i.test(file.name);
  return tsv ? "text/tab-separated-values" : "text/csv";
}

export class TrainForm {
  constructor(form, { onUploaded, onStarted, notify }) {
    this.form = form;
    this.status = document.getElementById("train-status");
    this.select = document.getElementById("train-dataset");
    this.onUploaded = onUploaded;
    this.onStarted = onStarted;
    this.notify = notify;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.described = this.describe();
    this.described.catch((error) => notify.error(error));
  }

  /** Load the hyperparameters' schema from the API and describe the fields with it. */
  async describe() {
    const properties = await loadHyperparameters();
    describeFields(this.form, properties);
    return properties;
  }

  /** The hyperparameters' schema, loaded again if the first attempt failed. */
  async hyperparameters() {
    try {
      return await this.described;
    } catch {
      this.described = this.describe();
      return this.described;
    }
  }

  /** Offer the stored datasets in the form (keeping the current choice). */
  setDatasets(datasets) {
    const options = datasets.map((d) => [d.id, `${d.name} (${d.rows} rows)`]);
    setOptions(this.select, "the file above", options);
  }

  async datasetId() {
    const file = document.getElementById("train-file").files[0];
    if (!file) {
      if (this.select.value) return this.select.value;
      throw new Error("Choose a CSV/TSV file or a stored dataset.");
    }
    const name = value("train-name") || file.name.replace(/\.[^.]+$/, "") || "upload";
    const query = new URLSearchParams({ name, units: value("train-units") });
    this.status.textContent = `Uploading ${file.name}…`;
    const dataset = await api(`/datasets?${query}`, {
      method: "POST",
      body: file,
      contentType: contentType(file),
    });
    this.onUploaded(dataset);
    if (dataset.message) this.notify.info(dataset.message); // stored before, maybe under another name
    return dataset.id;
  }

  /** The job the card follows now: the status goes unless it is the one this form started. */
  following(jobId) {
    if (this.jobId !== undefined && jobId !== this.jobId) this.forgetJob();
  }

  /** A state of the followed job: the status says it while the job is the one this form
   * started; once the job has ended the status goes (the card shows the outcome). */
  showJob(jobId, state, ended) {
    if (jobId !== this.jobId) return;
    if (ended) this.forgetJob();
    else this.status.textContent = `Job ${jobId} ${state}.`;
  }

  forgetJob() {
    this.jobId = undefined;
    this.status.textContent = "";
  }

  async submit() {
    const button = document.getElementById("train-submit");
    button.disabled = true;
    try {
      const properties = await this.hyperparameters();
      const datasetId = await this.datasetId();
      this.status.textContent = "Starting training…";
      const accepted = await api("/train", {
        method: "POST",
        json: {
          dataset_id: datasetId,
          hyperparameters: readFields(this.form, properties),
          promote: checked("train-promote"),
        },
      });
      this.jobId = accepted.job_id;
      this.status.textContent = `Job ${accepted.job_id} queued.`;
      await this.onStarted(accepted.job_id);
    } catch (error) {
      this.status.textContent = "";
      this.notify.error(error);
    } finally {
      button.disabled = false;
    }
  }
}
