// The predict form: one person's weight and height, with the latest model, an alias (a split
// picks a member by weight) or a chosen model.

import { api } from "./api.js";
import { format, h, show } from "./dom.js";
import { ModelChoice } from "./model_choice.js";

const value = (id) => document.getElementById(id).value.trim();

export class PredictForm {
  constructor(form, result, { notify }) {
    this.form = form;
    this.result = result;
    this.model = new ModelChoice(document.getElementById("predict-model"));
    this.notify = notify;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  setModels(models) {
    this.model.setModels(models);
  }

  setAliases(aliases) {
    this.model.setAliases(aliases);
  }

  async submit() {
    const body = {
      weight: Number(value("predict-weight")),
      height: Number(value("predict-height")),
      units: value("predict-units"),
      ...this.model.read(),
    };
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
          answer.alias && [" via alias ", h("span", { id: "predict-alias" }, answer.alias)],
        ),
      );
    } catch (error) {
      show(this.result);
      this.notify.error(error);
    }
  }
}
