// A <select> of the model that answers: the latest model (its empty option), an alias (a split
// picks a member), or one usable model; read() gives the request's model_id or alias.

import { setOptions } from "./dom.js";

/** The select's value for an alias (model ids never start so). */
const ALIAS = "alias:";

export class ModelChoice {
  constructor(select) {
    this.select = select;
    this.models = [];
    this.aliases = [];
  }

  /** Offer the usable models (keeping the current choice). */
  setModels(models) {
    this.models = models.filter((m) => m.status === "ok");
    this.offer();
  }

  /** Offer the aliases other than `latest` (the empty option already), before the models. */
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

  /** {alias}, {model_id}, or {} for the latest model. */
  read() {
    const chosen = this.select.value;
    if (chosen.startsWith(ALIAS)) return { alias: chosen.slice(ALIAS.length) };
    return chosen ? { model_id: chosen } : {};
  }
}
