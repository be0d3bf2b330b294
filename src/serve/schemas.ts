/**
 * JSON Schemas of `watt serve`'s routes. Fastify validates request bodies with them (ajv), and
 * the OpenAPI document (`GET /openapi.json`) is built from the very same objects, so the two
 * never drift apart.
 *
 * Bounds are those of `watt predict`'s flags (src/commands/predict.ts): outdoor temperature
 * [-40, 45] °C, indoor [-10, 35] °C, target [5, 30] °C, stove power [1, 50] kW.
 */

/** Request body of `POST /v1/predict`: the fields of `watt predict`, in `--json`'s names. */
export const predictBodySchema = {
  $id: 'PredictRequest',
  type: 'object',
  additionalProperties: false,
  required: ['outdoor_temp_c'],
  properties: {
    house_id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description: 'the house whose model answers (trained with `watt train --data FILE --house ID`); 404 when it has none; absent: the default model' },
    dpe_class: { type: 'string', enum: ['A', 'B', 'C', 'D', 'E', 'F', 'G'], description: "DPE class of the home (French energy performance certificate), A to G; required by the shipped class model (400 without it); optional with a house model, which knows its class: a different one is a 400 naming both" },
    outdoor_temp_c: { type: 'number', minimum: -40, maximum: 45, description: 'outdoor temperature around the ignition time (°C), i.e. the early-morning forecast' },
    indoor_temp_c: { type: 'number', minimum: -10, maximum: 35, description: 'indoor temperature now (°C); absent: estimated after the night cool-down' },
    target_temp_c: { type: 'number', minimum: 5, maximum: 30, description: "target indoor temperature (°C); default 19, or a house model's usual one (as `watt predict`)" },
    target_time: { type: 'string', pattern: '^([01]?[0-9]|2[0-3]):[0-5][0-9]$', description: "target time HH:MM (local wall clock); default 07:00, or a house model's usual one" },
    stove_power_kw: { type: 'number', minimum: 1, maximum: 50, description: "stove nominal power (kW); default 8, or a house model's stove" },
    temp_min_c: { type: 'number', minimum: -40, maximum: 45, description: "the night's forecast minimum outdoor temperature (°C), when the model uses it" },
  },
} as const;

const inputsSchema = {
  type: 'object',
  properties: {
    dpe_class: { type: ['string', 'null'] },
    outdoor_temp_c: { type: 'number' },
    indoor_temp_c: { type: ['number', 'null'] },
    target_temp_c: { type: 'number' },
    target_time: { type: 'string' },
    stove_power_kw: { type: 'number' },
    temp_min_c: { type: ['number', 'null'] },
  },
} as const;

/** Response of `POST /v1/predict` (200): exactly what `watt predict --json` prints. */
export const predictionSchema = {
  $id: 'Prediction',
  type: 'object',
  required: ['feasible', 'lead_time_min', 'ignition_time', 'model_version', 'inputs'],
  properties: {
    feasible: { type: 'boolean', description: 'false: the stove cannot reach the target in time (see reason); still a 200' },
    lead_time_min: { type: ['integer', 'null'], description: 'minutes before the target time to light the stove, margin included' },
    ignition_time: { type: ['string', 'null'], description: 'wall-clock ignition time HH:MM' },
    indoor_at_ignition_c: { type: 'number', description: 'indoor air at ignition used by the model (°C)' },
    indoor_estimated: { type: 'boolean' },
    reason: { type: 'string', description: 'why the night is infeasible, one sentence' },
    extrapolated: { type: 'boolean', description: 'true: the night lies beyond the history a house model was calibrated on; answered from its physics with a wider margin' },
    extrapolation: { type: 'array', items: { type: 'string' }, description: 'what lies beyond the history, one phrase each' },
    advice: { type: 'string', enum: ['light', 'keep-on', 'cannot-reach'], description: 'house models with a banded margin: light (a lead is given), keep-on (keep the stove on low overnight: the night is too close to the stove\'s limit to catch up from cold), cannot-reach' },
    near_limit: { type: 'boolean', description: "house models: the stove's ceiling at the night's coldest air is within 4 K of the target" },
    warning: { type: 'string', description: 'present when the model failed its training quality gate (saved with --accept-poor)' },
    model_version: { type: 'string' },
    inputs: inputsSchema,
    house_id: { type: 'string', description: 'the house asked for, echoed' },
    model_origin: { type: 'string', enum: ['flag', 'watt-home', 'shipped', 'registry'] },
  },
} as const;

/** Every error body: `{"error": "...", "details": [...]}`. */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error', 'details'],
  properties: {
    error: { type: 'string', description: 'what went wrong, one line' },
    details: {
      type: 'array',
      items: {
        type: 'object',
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
    hint: { type: 'string' },
  },
} as const;

export const healthSchema = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ok'] } },
} as const;

export const readySchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ready', 'unavailable'] },
    model_version: { type: ['string', 'null'] },
    model_origin: { type: ['string', 'null'] },
    loaded_at: { type: ['string', 'null'] },
    error: { type: 'string' },
  },
} as const;
