// The hyperparameter fields (the training form's, the sweep form's base), described by the API
// itself: each field marked data-hyperparameter="<name>" takes its default, bounds, choices and
// help from the `Hyperparameters` schema of /openapi.json (which the service builds from its one
// definition of each hyperparameter), never from literals in the page or here.

import { api } from "./api.js";
import { h } from "./dom.js";

const SCHEMA = "Hyperparameters";
let schemas = null; // the promise of /openapi.json's schemas, asked once (again after a failure)

/** Every schema /openapi.json defines, by name (fetched once for all the forms). */
export function loadSchemas() {
  if (!schemas) {
    schemas = api("/openapi.json").then((spec) => {
      const found = spec?.components?.schemas;
      if (!found) throw new Error("/openapi.json describes no schemas");
      return found;
    });
    schemas.catch(() => {
      schemas = null;
    });
  }
  return schemas;
}

/** The JSON Schema of each hyperparameter, by name, as /openapi.json states it. */
export async function loadHyperparameters() {
  const properties = (await loadSchemas())[SCHEMA]?.properties;
  if (!properties) throw new Error(`/openapi.json describes no ${SCHEMA}`);
  return properties;
}

function fields(form) {
  return [...form.querySelectorAll("[data-hyperparameter]")].map((field) => [
    field,
    field.dataset.hyperparameter,
  ]);
}

export const isNumber = (property) => property.type === "integer" || property.type === "number";

/**
 * Give each field its help (title), bounds and default value or choices. Only the defaults are
 * set (the value attribute, defaultChecked, defaultSelected), so a field the user already
 * changed keeps what the user typed.
 */
export function describeFields(form, properties) {
  for (const [field, name] of fields(form)) {
    if (properties[name]) describeField(field, properties[name]);
  }
}

/** Describe one input or select by its JSON Schema `property` (as describeFields does); a
 * nullable select offers an empty first option, "default" (the API picks). */
export function describeField(field, property) {
  if (property.description) field.title = property.description;
  if (field.tagName === "SELECT") {
    const choices = (property.enum ?? [])
      .filter((choice) => choice !== null)
      .map((choice) =>
        h("option", { value: choice, selected: choice === property.default }, choice),
      );
    const unset = property.nullable && h("option", { value: "" }, "default");
    field.replaceChildren(...[unset, ...choices].filter(Boolean));
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
