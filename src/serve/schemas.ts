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
    dpe_class: { type: 'string', enum: ['A', 'B', 'C', 'D', 'E', 'F', 'G'], description: "DPE class of the home (French energy performance certificate), A to G; required by the shipped class model (400 without it), ignored by a house model calibrated with `watt train --data`" },
    outdoor_temp_c: { type: 'number', minimum: -40, maximum: 45, description: 'outdoor temperature around the ignition time (°C), i.e. the early-morning forecast' },
    indoor_temp_c: { type: 'number', minimum: -10, maximum: 35, description: 'indoor temperature now (°C); absent: estimated after the night cool-down' },
    target_temp_c: { type: 'number', minimum: 5, maximum: 30, default: 19, description: 'target indoor temperature (°C)' },
    target_time: { type: 'string', pattern: '^([01]?[0-9]|2[0-3]):[0-5][0-9]$', default: '07:00', description: 'target time HH:MM (local wall clock)' },
    stove_power_kw: { type: 'number', minimum: 1, maximum: 50, default: 8, description: 'stove nominal power (kW)' },
    temp_min_c: { type: 'number', minimum: -40, maximum: 45, description: "the night's forecast minimum outdoor temperature (°C), when the model uses it" },
  },
} as const;

const inputsSchema = {
  type: 'object',
  properties: {
    dpe_class: { type: 'string' },
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
    model_version: { type: 'string' },
    inputs: inputsSchema,
    model_file: { type: 'string' },
    model_origin: { type: 'string', enum: ['flag', 'watt-home', 'shipped'] },
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
