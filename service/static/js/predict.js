// The predict form: one person's weight and height, with the latest model, an alias (a split
// picks a member by weight) or a chosen model.

import { api } from "./api.js";
import { format, h, setOptions, show } from "./dom.js";

/** The select's value for an alias (model ids never start so). */
const ALIAS = "alias:";
const value = (id) => document.getElementById(id).value.trim();

export class PredictForm {
  constructor(form, result, { notify }) {
    this.form = form;
    this.result = result;
    this.select = document.getElementById("predict-model");
    this.notify = notify;
    this.models = [];
    this.aliases = [];
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  /** Offer the usable models (keeping the current choice). */
  setModels(models) {
    this.models = models.filter((m) => m.status === "ok");
    this.offer();
  }

  /** Offer the aliases other than `latest` (the first option already), before the models. */
  setAliases(aliases) {
    this.aliases = aliases.filter((a) => a.name !== "latest");
    this.offer();
  }

  offer() {
    const options = [
      ...this.aliases.map((a) => [
        `${ALIAS}${a.name}`,
        `alias ${a.name}${a.split ? " (split)" : ""}`,
      ]),
      ...this.models.map((m) => [m.id, `${m.id}${m.is_latest ? " (latest)" : ""}`]),
    ];
    setOptions(this.select, "the latest model", options);
  }

  async submit() {
    const body = {
      weight: Number(value("predict-weight")),
      height: Number(value("predict-height")),
      units: value("predict-units"),
    };
    const chosen = this.select.value;
    if (chosen.startsWith(ALIAS)) body.alias = chosen.slice(ALIAS.length);
    else if (chosen) body.model_id = chosen;
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
