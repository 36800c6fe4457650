// The predict form: one person's weight and height, with the latest or a chosen model.

import { api } from "./api.js";
import { format, h, setOptions, show } from "./dom.js";

const value = (id) => document.getElementById(id).value.trim();

export class PredictForm {
  constructor(form, result, { notify }) {
    this.form = form;
    this.result = result;
    this.select = document.getElementById("predict-model");
    this.notify = notify;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  /** Offer the usable models (keeping the current choice). */
  setModels(models) {
    const usable = models.filter((m) => m.status === "ok");
    const options = usable.map((m) => [m.id, `${m.id}${m.is_latest ? " (latest)" : ""}`]);
    setOptions(this.select, "the latest model", options);
  }

  async submit() {
    const body = {
      weight: Number(value("predict-weight")),
      height: Number(value("predict-height")),
      units: value("predict-units"),
    };
    if (this.select.value) body.model_id = this.select.value;
    try {
      const answer = await api("/predict", { method: "POST", json: body });
      const { gender, probability_female: p } = answer.predictions[0];
      // The picture (js/picture.js) marks where this person falls.
      const detail = { ...body, gender, probability: p, modelId: answer.model_id };
      this.form.dispatchEvent(new CustomEvent("predicted", { bubbles: true, detail }));
      show(
        this.result,
        h(
          "span",
          { id: "predict-gender", class: `gender gender-${gender}` },
          gender === "F" ? "Female" : "Male",
        ),
        h("span", { id: "predict-probability" }, `probability female ${format.percent(p)}`),
        h(
          "span",
          { class: "muted" },
          "model ",
          h("span", { id: "predict-model-id", class: "mono" }, answer.model_id),
        ),
      );
    } catch (error) {
      show(this.result);
      this.notify.error(error);
    }
  }
}
