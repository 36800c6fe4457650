// The training form's hyperparameter fields, described by the API itself: each field marked
// data-hyperparameter="<name>" takes its default, bounds, choices and help from the
// `Hyperparameters` schema of /openapi.json (which the service builds from its one definition of
// each hyperparameter), never from literals in the page or here.

import { api } from "./api.js";
import { h } from "./dom.js";

const SCHEMA = "Hyperparameters";

/** The JSON Schema of each hyperparameter, by name, as /openapi.json states it. */
export async function loadHyperparameters() {
  const spec = await api("/openapi.json");
  const properties = spec?.components?.schemas?.[SCHEMA]?.properties;
  if (!properties) throw new Error(`/openapi.json describes no ${SCHEMA}`);
  return properties;
}

function fields(form) {
  return [...form.querySelectorAll("[data-hyperparameter]")].map((field) => [
    field,
    field.dataset.hyperparameter,
  ]);
}

const isNumber = (property) => property.type === "integer" || property.type === "number";

/**
 * Give each field its help (title), bounds and default value or choices. Only the defaults are
 * set (the value attribute, defaultChecked, defaultSelected), so a field the user already
 * changed keeps what the user typed.
 */
export function describeFields(form, properties) {
  for (const [field, name] of fields(form)) {
    const property = properties[name];
    if (!property) continue;
    if (property.description) field.title = property.description;
    if (field.tagName === "SELECT") {
      const choices = (property.enum ?? []).map((choice) =>
        h("option", { value: choice, selected: choice === property.default }, choice),
      );
      field.replaceChildren(...choices);
    } else if (field.type === "checkbox") {
      field.defaultChecked = Boolean(property.default);
    } else if (property.type === "array") {
      field.defaultValue = (property.default ?? []).join(", ");
    } else {
      if (isNumber(property)) {
        field.step = property.type === "integer" ? "1" : "any";
        if (property.minimum !== undefined) field.min = String(property.minimum);
        if (property.maximum !== undefined) field.max = String(property.maximum);
      }
      field.defaultValue = property.default ?? "";
    }
  }
}

/** The fields' values in the API's types; an empty field is left out (the API's default). */
export function readFields(form, properties) {
  const values = {};
  for (const [field, name] of fields(form)) {
    const property = properties[name] ?? {};
    if (field.type === "checkbox") {
      values[name] = field.checked;
      continue;
    }
    const text = field.value.trim();
    if (text === "") continue;
    if (property.type === "array") {
      values[name] = text.split(/[\s,]+/).filter(Boolean).map(Number);
    } else {
      values[name] = isNumber(property) ? Number(text) : text;
    }
  }
  return values;
}
