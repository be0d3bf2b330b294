import { UsageError } from '../errors.js';
import type { DpeClass } from './params.js';
import { DPE_CLASSES, clockToMinutes, minutesToClock } from './params.js';
import type { FeatureInput } from './features.js';
import type { BaseQuantities } from './features.js';
import { FEATURES, U_MAX, baseQuantities, loadShare } from './features.js';
import type { ClassModel, CoolDownCurve, LeadModel, WattModel } from './model-file.js';
import type { HouseModel } from './house-model.js';
import { isHouseModel } from './house-model.js';
import { defaultPathLead as houseDefaultPath, extrapolationReasons, houseAdvisedLeadMin, houseCeilingC, houseCooledIndoorC, houseRawLeadMin, NEAR_LIMIT_K, sinceStoveOffMin } from './house-predict.js';
import { effectiveOutdoorC } from './house-physics.js';

/**
 * `watt predict`'s core: the lead time (minutes) to light the stove so that the room is at the
 * target at the target time. Pure arithmetic on a loaded model: no simulator, no regression
 * library (the fitted weights are a dot product), so the command starts fast.
 */

/**
 * One query. `dpeClass` is required by the shipped (class) models and only echoed by a house model
 * (`watt train --data`), which knows its own house.
 */
export interface PredictInput {
  dpeClass?: DpeClass;
  /** Outdoor temperature (°C). */
  outdoorC: number;
  /** Indoor air when deciding (°C); absent: the model's cool-down estimate at the ignition time. */
  indoorC?: number;
  /** Target air temperature (°C). */
  targetC: number;
  /** Target time `HH:MM`. */
  at: string;
  /** Stove nominal power (kW). */
  powerKw: number;
  /** Forecast minimum outdoor temperature (°C) between now and the target time (optional). */
  tempMinC?: number;
}

/** The inputs as the prediction understood them (echoed in `--json`). */
/** A query to a class model: the class is required. */
export type ClassPredictInput = PredictInput & { dpeClass: DpeClass };

export interface PredictionInputs {
  /** The class asked, or the house model's own label. */
  dpe_class: DpeClass | null;
  outdoor_temp_c: number;
  indoor_temp_c: number | null;
  target_temp_c: number;
  target_time: string;
  stove_power_kw: number;
  temp_min_c: number | null;
}

export type Prediction =
  | {
      feasible: true;
      /** Minutes before the target time, whole minutes, margin included. */
      lead_time_min: number;
      /** Wall-clock ignition time HH:MM. */
      ignition_time: string;
      /** Indoor air at ignition used by the model (°C): the given one, or the cool-down estimate. */
      indoor_at_ignition_c: number;
      indoor_estimated: boolean;
      /** The night lies beyond what the model learnt from (house models: colder, another target or stove); the margin is widened. */
      extrapolated: boolean;
      /** What lies beyond, in plain words (empty when not extrapolated). */
      extrapolation: string[];
      model_version: string;
      inputs: PredictionInputs;
      /** House models with a banded margin: `light` (a lead is given). */
      advice?: 'light';
      /** House models: the stove's ceiling at the night's coldest air is within 4 K of the target (the regime near the limit). */
      near_limit?: boolean;
      /** Present when the model failed its training's quality gate (`quality: poor`), in one sentence. */
      warning?: string;
    }
  | {
      feasible: false;
      lead_time_min: null;
      ignition_time: null;
      /** Why, in one plain sentence. */
      reason: string;
      extrapolated: boolean;
      extrapolation: string[];
      model_version: string;
      inputs: PredictionInputs;
      /**
       * House models with a banded margin: `keep-on` (the stove cannot be trusted to catch up from a
       * cold start: keep it on low overnight) or `cannot-reach` (the target is out of reach at that
       * outdoor air, whatever the lead).
       */
      advice?: 'keep-on' | 'cannot-reach';
      near_limit?: boolean;
      warning?: string;
    };

/**
 * Advised lead (minutes, margin included, may exceed the 9 h cap) of one class model for one row;
 * Infinity when the stove can never reach the target (T_set >= T_o + P/H_eff).
 */
export function advisedLeadMin(model: LeadModel, cls: ClassModel, f: Omit<FeatureInput, 'hEffWPerK'>, withMargin = true): number {
  const small = cls.small_stove;
  if (small && f.powerKw < small.below_kw) {
    return Math.max(advisedLeadMin(model, small, f, withMargin), advisedLeadMin(model, cls, { ...f, powerKw: small.below_kw }, withMargin));
  }
  const input: FeatureInput = { ...f, hEffWPerK: cls.h_eff_w_per_k };
  if (f.indoorC >= f.targetC) return 0;
  if (loadShare(input) >= 1) return Number.POSITIVE_INFINITY;
  const fns = compiledFeatures(cls);
  const b = baseQuantities(input);
  let z = 0;
  for (let i = 0; i < fns.length; i++) z += cls.weights[i]! * Math.min(cls.feature_max[i]!, Math.max(cls.feature_min[i]!, fns[i]!(b)));
  z = Math.min(z, Math.log(model.max_lead_min + model.offset_min) + 2);
  const raw = Math.exp(z);
  return Math.max(0, raw * (withMargin ? Math.max(marginFactor(cls, raw - model.offset_min), ceilingFactor(cls, f.outdoorC + (f.powerKw * 1000) / cls.h_eff_w_per_k - f.targetC)) : 1) - model.offset_min);
}

const compiled = new WeakMap<ClassModel, ((b: ReturnType<typeof baseQuantities>) => number)[]>();

/** The feature functions of a class, looked up once per loaded model (a hot path of `watt serve`). */
function compiledFeatures(cls: ClassModel): ((b: ReturnType<typeof baseQuantities>) => number)[] {
  let fns = compiled.get(cls);
  if (!fns) {
    fns = cls.features.map((n) => {
      const fn = FEATURES[n];
      if (!fn) throw new Error(`unknown feature "${n}"`);
      return fn;
    });
    compiled.set(cls, fns);
  }
  return fns;
}

/** The safety factor of a class when its ceiling is `ceilingMarginK` (K) above the target (see `margin_by_ceiling`); 1 above every region or for a model without one. */
export function ceilingFactor(cls: ClassModel, ceilingMarginK: number): number {
  const mc = cls.margin_by_ceiling;
  let f = 1;
  if (!mc) return f;
  for (let i = 0; i < mc.below_k.length && ceilingMarginK < mc.below_k[i]!; i++) f = mc.factor[i]!;
  return f;
}

/** The safety factor of a class at a raw (no margin) lead: the region's factor, else the class's single one. */
export function marginFactor(cls: ClassModel, rawLeadMin: number): number {
  const mb = cls.margin_by_lead;
  if (!mb) return cls.margin_factor;
  let f = mb.factor[0]!;
  for (let i = 1; i < mb.from_min.length && rawLeadMin >= mb.from_min[i]!; i++) f = mb.factor[i]!;
  return f;
}

/** Step (K) of the target grid over which {@link classLeadMin} takes its maximum. */
export const TARGET_STEP_K = 0.5;
/** Coarse step (minutes) of the default-path search, refined to 1 min. */
const DEFAULT_PATH_STEP_MIN = 5;

/**
 * The lead watt advises for a class (minutes, margin included; Infinity when unreachable): the
 * class regression, made monotone in the target by taking the largest lead over the targets from
 * the indoor temperature up to the one asked (0.5 K grid), so a higher target never gets a
 * shorter lead. (No maximum over the better classes at a given indoor temperature: a
 * well-insulated house found at 13 °C has a cold mass and may truly need longer; better-class
 * regressions also extrapolate badly there.)
 */
export function classLeadMin(model: LeadModel, dpeClass: DpeClass, f: Omit<FeatureInput, 'hEffWPerK'>, withMargin = true): number {
  const cls = model.classes[dpeClass];
  if (!cls) return Number.POSITIVE_INFINITY;
  let lead = advisedLeadMin(model, cls, f, withMargin);
  for (let t = f.targetC - TARGET_STEP_K; t > f.indoorC && lead !== Number.POSITIVE_INFINITY; t -= TARGET_STEP_K) {
    lead = Math.max(lead, advisedLeadMin(model, cls, { ...f, targetC: t }, withMargin));
  }
  return lead;
}

/** Air temperature (°C) `minutes` after the stove went off, outdoors constant at `outdoorC`. */
export function cooledAirC(curve: CoolDownCurve, eveningC: number, outdoorC: number, minutes: number): number {
  const t = Math.max(0, minutes);
  return outdoorC + (eveningC - outdoorC) * (curve.w_fast * Math.exp(-t / curve.tau_fast_min) + curve.w_slow * Math.exp(-t / curve.tau_slow_min));
}

/** The learned margin (K) of the model's feasibility boundary; 0 (the bare ceiling) for a model without one. */
export function minMarginK(model: LeadModel): number {
  return model.feasibility?.min_margin_k ?? 0;
}

function who(input: ClassPredictInput): string {
  return `a class ${input.dpeClass} home at ${input.outdoorC} °C outdoors with a ${input.powerKw} kW stove`;
}

function tooLongSentence(model: LeadModel, input: ClassPredictInput): string {
  return `${who(input)} needs more than ${model.max_lead_min / 60} h to reach ${input.targetC} °C by ${minutesToClock(clockToMinutes(input.at))}: light it the evening before and keep it on, or use a bigger stove.`;
}

/** Reasons (1) and (2) of {@link refusalReason}: the ceiling alone, no regression. */
function ceilingRefusalReason(model: LeadModel, input: ClassPredictInput): string | undefined {
  const cls = model.classes[input.dpeClass];
  if (!cls) return undefined;
  const ceiling = input.outdoorC + (input.powerKw * 1000) / cls.h_eff_w_per_k;
  if (input.targetC >= ceiling) {
    return `${who(input)} tops out near ${ceiling.toFixed(1)} °C, below the ${input.targetC} °C target: it cannot be reached however early the stove is lit.`;
  }
  const margin = minMarginK(model);
  const at = minutesToClock(clockToMinutes(input.at));
  if (ceiling - input.targetC < margin) {
    return `${who(input)} tops out near ${ceiling.toFixed(1)} °C, less than ${margin.toFixed(1)} K above the ${input.targetC} °C target: nights like this get colder by morning, and ${input.targetC} °C cannot be reached by ${at} even with the stove lit ${model.max_lead_min / 60} h before.`;
  }
  return undefined;
}

/**
 * Why watt refuses this night (one plain sentence), or undefined when it can answer with a lead.
 * In order: (1) the stove's steady-state ceiling T_o + P/H_eff is at or below the target: never
 * reachable; (2) the ceiling is less than the model's learned margin ({@link minMarginK}) above the
 * target: on real nights the outdoor air keeps falling until morning, and the simulator finds such
 * nights out of reach in 9 h far more often than not (the boundary is calibrated at train time,
 * see feasibility.ts); (3) the lead exceeds 9 h: the class regression with `--indoor`, else the
 * regression at the cool-down estimate of a 9 h lead. Arithmetic only (the held-out evaluation calls
 * it for every night). The class must be in the model (see {@link predictLead}).
 */
export function refusalReason(model: LeadModel, input: ClassPredictInput): string | undefined {
  const cls = model.classes[input.dpeClass];
  if (!cls) return undefined;
  const ceilingRefusal = ceilingRefusalReason(model, input);
  if (ceilingRefusal !== undefined) return ceilingRefusal;
  const maxLead = model.max_lead_min;
  const base = { outdoorC: input.outdoorC, targetC: input.targetC, powerKw: input.powerKw };
  if (input.indoorC !== undefined) {
    return classLeadMin(model, input.dpeClass, { ...base, indoorC: input.indoorC }) > maxLead ? tooLongSentence(model, input) : undefined;
  }
  const curve = model.cooldown.classes[input.dpeClass];
  if (!curve) return undefined;
  const targetMin = clockToMinutes(input.at);
  const stoveOff = Math.min(clockToMinutes(model.cooldown.stove_off) - 1440, targetMin - maxLead);
  const indoor = cooledAirC(curve, model.cooldown.evening_air_temp_c, input.outdoorC, targetMin - maxLead - stoveOff);
  return classLeadMin(model, input.dpeClass, { ...base, indoorC: indoor }) > maxLead ? tooLongSentence(model, input) : undefined;
}

/** Tolerance (kW) around the trained stove powers. */
export const POWER_RANGE_TOLERANCE_KW = 0.5;
/** Tolerance (K) below the coldest trained outdoor temperature (warmer nights only shorten the lead). */
export const OUTDOOR_RANGE_TOLERANCE_K = 2;

/**
 * Why the query is outside what the model was trained on (stove power outside the trained powers
 * ± 0.5 kW, or outdoors more than 2 K colder than the coldest training night), or undefined. A
 * model without `input_range` (older files) accepts everything.
 */
export function outsideRange(model: LeadModel, input: Pick<PredictInput, 'outdoorC' | 'powerKw'>): string | undefined {
  const range = model.input_range;
  if (!range) return undefined;
  const [pLo, pHi] = range.stove_power_kw;
  if (input.powerKw < pLo - POWER_RANGE_TOLERANCE_KW || input.powerKw > pHi + POWER_RANGE_TOLERANCE_KW) {
    return `a ${input.powerKw} kW stove: model ${model.version} learnt from ${pLo === pHi ? `${pLo} kW stoves` : `stoves of ${pLo} to ${pHi} kW`}`;
  }
  const [oLo] = range.outdoor_temp_c;
  if (input.outdoorC < oLo - OUTDOOR_RANGE_TOLERANCE_K) return `${input.outdoorC} °C outdoors: model ${model.version} learnt from nights down to ${oLo} °C`;
  return undefined;
}

/**
 * Predict the ignition time: the in-process API of `watt predict` and `watt serve`. Returns the
 * object `watt predict --json` prints (without `model_file`, `model_origin`). Pure arithmetic on a
 * loaded model: ~10-30 µs, ~40-110 µs for a class model without `indoorC` (`npm run bench:predict`).
 *
 * - A house model (`watt train --data`, format `watt-house-model/1`): the calibrated physics
 *   ({@link predictHouseLead}); `dpeClass` is only echoed.
 * - A class model (the shipped default): {@link predictClassLead}; `dpeClass` is required.
 * @throws UsageError for inputs the model cannot take (see each).
 */
export function predictLead(model: WattModel, input: PredictInput): Prediction {
  if (isHouseModel(model)) return predictHouseLead(model, input);
  if (!input.dpeClass) {
    throw new UsageError(`model ${model.version} is a DPE-class model: it needs the class of the home`, { hint: 'pass --dpe A..G, or train a model of your house with watt train --data' });
  }
  return predictClassLead(model, input as ClassPredictInput);
}

/**
 * The same answer as {@link predictLead}, computed the straightforward way: for a class model
 * without `indoorC`, the 5-min scan down from 9 h evaluates the whole class regression (every
 * target of the 0.5 K grid, every better class) at each step (~2-3 ms). Kept as the oracle of the
 * fast path (tests/model/predict-fast.test.ts checks both are deep-equal).
 */
export function predictLeadReference(model: WattModel, input: PredictInput): Prediction {
  if (isHouseModel(model) || !input.dpeClass) return predictLead(model, input);
  return predictClassLead(model, input as ClassPredictInput, true);
}

function echo(input: PredictInput, targetMin: number, dpeClass: DpeClass | null): PredictionInputs {
  return {
    dpe_class: dpeClass,
    outdoor_temp_c: input.outdoorC,
    indoor_temp_c: input.indoorC ?? null,
    target_temp_c: input.targetC,
    target_time: minutesToClock(targetMin),
    stove_power_kw: input.powerKw,
    temp_min_c: input.tempMinC ?? null,
  };
}

/**
 * Predict with a calibrated house: the two-node physics of house-physics.ts at the pessimistic
 * parameters, times the margin factor, both widened beyond what the history saw
 * (`extrapolated: true`, and `extrapolation` says what). Without an indoor reading the calibrated
 * cool-down gives the air at ignition (a fixed point, {@link houseDefaultPath}). Refused only when
 * the calibrated physics says the target cannot be reached: the stove's ceiling T_o + P/H_eff at or
 * below the target, or more than 9 h of heating. A higher advice than 9 h from the margin alone is
 * capped at 9 h. With `tempMinC` (a forecast minimum below `outdoorC`) the lead is at least the one at
 * the mean of the two, or 9 h where the calibrated physics cannot reach the target there.
 * @throws UsageError if the target is below a given indoor temperature or `at` is not HH:MM.
 */
export function predictHouseLead(model: HouseModel, input: PredictInput): Prediction {
  const targetMin = clockToMinutes(input.at);
  if (input.dpeClass !== undefined && input.dpeClass !== model.dpe_class) {
    throw new UsageError(`DPE class ${input.dpeClass} contradicts the house model ${model.version}, calibrated as class ${model.dpe_class}`, {
      hint: `omit the class (the house model knows its own) or pass ${model.dpe_class}`,
    });
  }
  // the house's own label: a --dpe given with a house model is not used, so it is not echoed either
  const inputs = echo(input, targetMin, model.dpe_class);
  if (input.indoorC !== undefined && input.targetC < input.indoorC) {
    throw new UsageError(`target ${input.targetC} °C is below the indoor temperature ${input.indoorC} °C: no heating needed`, { hint: 'raise --target or lower --indoor' });
  }
  const banded = model.margin.bands !== undefined;
  const weight = model.heating.temp_min_weight?.value;
  const tempMin = input.tempMinC !== undefined && input.tempMinC < input.outdoorC ? input.tempMinC : undefined;
  const coldest = tempMin ?? input.outdoorC;
  const headroom = houseCeilingC(model, coldest, input.powerKw) - input.targetC;
  const nearLimit = headroom < NEAR_LIMIT_K;
  const warning = model.quality?.status === 'poor' ? `model ${model.version} failed its training's quality gate (${model.quality.reasons.join('; ')}): check the advice against the room` : undefined;
  const tail = { ...(banded ? { near_limit: nearLimit } : {}), ...(warning ? { warning } : {}) };
  const base = { outdoorC: input.outdoorC, targetC: input.targetC, powerKw: input.powerKw };
  const maxLead = model.max_lead_min;
  const refuse = (reason: string, extrapolation: string[], advice?: 'keep-on' | 'cannot-reach'): Prediction => ({
    feasible: false, lead_time_min: null, ignition_time: null, reason, extrapolated: extrapolation.length > 0, extrapolation, model_version: model.version, inputs,
    ...(banded && advice ? { advice } : {}), ...tail,
  });
  const ceiling = houseCeilingC(model, input.outdoorC, input.powerKw);
  const night = `your house at ${input.outdoorC} °C outdoors with a ${input.powerKw} kW stove`;
  const by = minutesToClock(targetMin);
  if (input.targetC >= ceiling) {
    const extrapolation = extrapolationReasons(model, { ...base, indoorC: input.indoorC ?? input.targetC, indoorGiven: input.indoorC !== undefined });
    return refuse(`${night} tops out near ${ceiling.toFixed(1)} °C (calibrated H_eff), below the ${input.targetC} °C target: it cannot be reached however early the stove is lit.`, extrapolation, 'cannot-reach');
  }
  const keepOn = `keep the stove on low overnight: ${night} cannot be trusted to bring the room from cold to ${input.targetC} °C by ${by}${tempMin !== undefined ? ` with ${tempMin} °C forecast before then` : ''} (its ceiling is ${headroom.toFixed(1)} K above the target at the coldest air).`;
  if (banded && headroom <= 0) {
    // the forecast minimum brings the ceiling to or under the target: heat must be kept, not caught up
    return refuse(`keep the stove on low overnight: this stove cannot hold ${input.targetC} °C at the forecast ${coldest} °C (it tops out near ${(headroom + input.targetC).toFixed(1)} °C), so the room must not cool before ${by}.`, extrapolationReasons(model, { ...base, indoorC: input.indoorC ?? input.targetC, indoorGiven: input.indoorC !== undefined }), 'keep-on');
  }
  const tooLong = `${night} needs more than ${maxLead / 60} h to reach ${input.targetC} °C by ${by} (calibrated physics): light it the evening before and keep it on, or use a bigger stove.`;
  // with a fitted forecast-minimum weight the heating meets the air between --temp and --temp-min
  const heatOutdoor = weight !== undefined ? effectiveOutdoorC(input.outdoorC, tempMin, weight) : input.outdoorC;
  const hq = { ...base, outdoorC: heatOutdoor };
  const advised = (q: { outdoorC: number; indoorC: number; targetC: number; powerKw: number }) => {
    const raw = houseRawLeadMin(model, q);
    if (raw > maxLead) return Number.POSITIVE_INFINITY;
    const a = houseAdvisedLeadMin(model, q, headroom, raw);
    // banded models answer plainly rather than cap a lead the margin pushes past the night
    return banded ? a : Math.min(maxLead, a);
  };
  let lead: number;
  let indoor: number;
  if (input.indoorC !== undefined) {
    lead = advised({ ...hq, indoorC: input.indoorC });
    indoor = input.indoorC;
    if (!Number.isFinite(lead)) return refuse(tooLong, extrapolationReasons(model, { ...base, indoorC: indoor, indoorGiven: true }), 'keep-on');
  } else {
    const r = houseDefaultPath(model, hq, targetMin, clockToMinutes(model.cooldown.stove_off), advised);
    if (!r) return refuse(banded && Number.isFinite(advised({ ...hq, indoorC: houseCooledIndoorAt(model, hq.outdoorC, targetMin) })) ? keepOn : tooLong, extrapolationReasons(model, { ...base, indoorC: input.targetC, indoorGiven: false }), 'keep-on');
    lead = r.lead;
    indoor = r.indoorC;
  }
  if (weight === undefined && tempMin !== undefined) {
    // the forecast minimum, as for the class models: the night also asked at the mean of --temp and
    // --temp-min; out of reach there: light it while it is milder, the full 9 h
    const mid = { ...base, outdoorC: (input.outdoorC + tempMin) / 2 };
    if (input.indoorC !== undefined) lead = Math.max(lead, advised({ ...mid, indoorC: input.indoorC }));
    else lead = Math.max(lead, houseDefaultPath(model, mid, targetMin, clockToMinutes(model.cooldown.stove_off), advised)?.lead ?? Number.POSITIVE_INFINITY);
    if (!banded) lead = Math.min(maxLead, lead);
  }
  if (banded && lead > maxLead) return refuse(keepOn, extrapolationReasons(model, { ...base, indoorC: indoor, indoorGiven: input.indoorC !== undefined }), 'keep-on');
  const extrapolation = extrapolationReasons(model, { ...base, indoorC: indoor, indoorGiven: input.indoorC !== undefined });
  const whole = Math.min(maxLead, Math.max(0, Math.ceil(lead - 1e-9)));
  return {
    feasible: true,
    lead_time_min: whole,
    ignition_time: minutesToClock(targetMin - whole),
    indoor_at_ignition_c: Math.round(indoor * 10) / 10,
    indoor_estimated: input.indoorC === undefined,
    extrapolated: extrapolation.length > 0,
    extrapolation,
    model_version: model.version,
    inputs,
    ...(banded ? { advice: 'light' as const } : {}),
    ...tail,
  };
}

/** The calibrated cool-down's indoor air at the latest stove-off before the target (for the keep-on sentence). */
function houseCooledIndoorAt(model: HouseModel, outdoorC: number, targetMin: number): number {
  return houseCooledIndoorC(model, outdoorC, sinceStoveOffMin(model, targetMin, model.max_lead_min, clockToMinutes(model.cooldown.stove_off)));
}

/**
 * Predict with a DPE-class model (the shipped default).
 *
 * With an indoor temperature the class regression gives the lead directly. Without one, the indoor
 * air at ignition is the cool-down estimate (stove off at 22:00 from 20 °C, constant outdoors) at
 * that very ignition time, so watt takes the smallest lead L (1-min grid) whose estimate needs no
 * more than L. The night is infeasible (no lead, a sentence) in the cases of {@link refusalReason}.
 * @throws UsageError if the model has no regression for the class, the power or outdoor temperature
 *   is outside the model's training range ({@link outsideRange}), the target is below the
 *   indoor temperature, or the target time is not HH:MM.
 */
export function predictClassLead(model: LeadModel, input: ClassPredictInput, reference = false): Prediction {
  const targetMin = clockToMinutes(input.at);
  const inputs = echo(input, targetMin, input.dpeClass);
  const cls = model.classes[input.dpeClass];
  if (!cls) {
    const have = Object.keys(model.classes).join(', ');
    throw new UsageError(`model ${model.version} has no data for DPE class ${input.dpeClass} (it knows ${have})`, {
      hint: 'train on a history with that class, or use the shipped model (omit --model)',
    });
  }
  const outside = outsideRange(model, input);
  if (outside !== undefined) {
    throw new UsageError(`${outside}: outside the model's range, its regressions would extrapolate`, {
      hint: 'pass a value within that range, or train a model on such nights with watt train --data',
    });
  }
  if (input.indoorC !== undefined && input.targetC < input.indoorC) {
    throw new UsageError(`target ${input.targetC} °C is below the indoor temperature ${input.indoorC} °C: no heating needed`, {
      hint: 'raise --target or lower --indoor',
    });
  }
  const maxLead = model.max_lead_min;
  const infeasible = (reason: string): Prediction => ({ feasible: false, lead_time_min: null, ignition_time: null, reason, extrapolated: false, extrapolation: [], model_version: model.version, inputs });
  const a = classAnswer(model, input, targetMin, reference);
  if ('reason' in a) return infeasible(a.reason);
  let lead = a.lead;
  if (input.tempMinC !== undefined && input.tempMinC < input.outdoorC) {
    // The forecast minimum: the night also asked at the mean of --temp and --temp-min (the outdoor
    // air the heating meets on average as it falls to the minimum); where that night is out of
    // reach, the stove must be lit while it is milder: the full 9 h.
    const b = classAnswer(model, { ...input, outdoorC: (input.outdoorC + input.tempMinC) / 2 }, targetMin, reference, lead);
    lead = 'reason' in b ? maxLead : Math.max(lead, b.lead);
  }
  const whole = Math.max(0, Math.ceil(lead - 1e-9));
  return {
    feasible: true,
    lead_time_min: whole,
    ignition_time: minutesToClock(targetMin - whole),
    indoor_at_ignition_c: Math.round(a.indoor * 10) / 10,
    indoor_estimated: input.indoorC === undefined,
    extrapolated: false,
    extrapolation: [],
    model_version: model.version,
    inputs,
  };
}

/**
 * The class answer for one night (validated input): the lead (minutes, margin included, not
 * rounded) and the indoor air at ignition, or the refusal sentence. With `floor` (the fast path
 * only), a lead proven <= floor may come back as any value <= floor (the caller takes a maximum).
 */
function classAnswer(model: LeadModel, input: ClassPredictInput, targetMin: number, reference = false, floor = Number.NEGATIVE_INFINITY): { lead: number; indoor: number } | { reason: string } {
  if (!reference && input.indoorC === undefined) {
    const fast = classAnswerFast(model, input, targetMin, floor);
    if (fast !== undefined) return fast;
  }
  const base = { outdoorC: input.outdoorC, targetC: input.targetC, powerKw: input.powerKw };
  const maxLead = model.max_lead_min;
  const refused = refusalReason(model, input);
  if (refused !== undefined) return { reason: refused };
  const tooLong = { reason: tooLongSentence(model, input) };
  if (input.indoorC !== undefined) {
    const lead = classLeadMin(model, input.dpeClass, { ...base, indoorC: input.indoorC });
    return lead > maxLead ? tooLong : { lead, indoor: input.indoorC };
  }
  if (!model.cooldown.classes[input.dpeClass]) throw new UsageError(`model ${model.version} has no cool-down curve for class ${input.dpeClass}`, { hint: 'pass --indoor' });
  // No indoor reading: the lead of this class, and of every better class in the model (each with its
  // own cool-down estimate), so that a worse class never gets a shorter lead in the same weather.
  let best: { lead: number; indoor: number } | undefined;
  for (const c of DPE_CLASSES) {
    if (model.classes[c] && model.cooldown.classes[c]) {
      const r = defaultPathLead(model, c, input, targetMin);
      if (r === undefined) {
        if (c === input.dpeClass) return tooLong;
      } else if (c === input.dpeClass) best = { lead: Math.max(r.lead, best?.lead ?? 0), indoor: r.indoor };
      else best = { lead: Math.max(r.lead, best?.lead ?? 0), indoor: best?.indoor ?? r.indoor };
    }
    if (c === input.dpeClass) break;
  }
  return best ?? tooLong;
}

/**
 * The default-path lead of one class: the indoor air at ignition is the cool-down estimate at that
 * very ignition time, so the lead L must satisfy need(L) <= L. watt takes the smallest L (5-min grid refined to 1 min)
 * from which need stays below the lead for every earlier ignition too (a conservative crossing:
 * a dip of the regression never makes a colder night's advice shorter). Undefined beyond 9 h.
 */
function defaultPathLead(model: LeadModel, dpeClass: DpeClass, input: ClassPredictInput, targetMin: number): { lead: number; indoor: number } | undefined {
  const curve = model.cooldown.classes[dpeClass]!;
  const maxLead = model.max_lead_min;
  const stoveOff = Math.min(clockToMinutes(model.cooldown.stove_off) - 1440, targetMin - maxLead);
  const base = { outdoorC: input.outdoorC, targetC: input.targetC, powerKw: input.powerKw };
  const at = (lead: number) => {
    const indoor = cooledAirC(curve, model.cooldown.evening_air_temp_c, input.outdoorC, targetMin - lead - stoveOff);
    return { indoor, ok: classLeadMin(model, dpeClass, { ...base, indoorC: indoor }) <= lead };
  };
  // down from 9 h on a 5-min grid to the first lead that is too short, then 1-min steps above it
  let answer: { lead: number; indoor: number } | undefined;
  let lead = maxLead;
  for (; lead >= 0; lead -= DEFAULT_PATH_STEP_MIN) {
    const r = at(lead);
    if (!r.ok) break;
    answer = { lead, indoor: r.indoor };
  }
  if (answer && lead >= 0) {
    for (let l = lead + 1; l < answer.lead; l++) {
      const r = at(l);
      if (r.ok) return { lead: l, indoor: r.indoor };
    }
  } else if (answer) {
    for (let l = 0; l < answer.lead; l++) {
      const r = at(l);
      if (r.ok) return { lead: l, indoor: r.indoor };
    }
  }
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Fast default path (no indoor reading), exact: the same answers as classAnswer's reference scan.
//
// The reference evaluates ok(L) = classLeadMin(indoor(L)) <= L at every 5-min lead from 9 h down,
// each a maximum over the 0.5 K target grid of one or two regressions. The fast path evaluates the
// same ok(L) but skips, with a PROVEN upper bound, whatever cannot fail:
// - every base quantity (u, -ln(1-u), x, gap, cool) is non-decreasing in the target t and
//   non-increasing in the indoor air I (for t below the ceiling T_o + P/H), and every feature of
//   MONOMIALS is a product of these non-negative quantities; so over a box of targets
//   [t_lo, t_hi] x indoor [I_lo, I_hi] each feature lies between its value at (t_lo, I_hi) and at
//   (t_hi, I_lo); the clamps, the cap, exp are monotone, and the margin and ceiling factors are
//   bounded by the largest factor of the regions the box can reach. That gives an upper bound of
//   advisedLeadMin over the box from two evaluations of the regression;
// - the cool-down curve (positive weights and time constants) is monotone in the lead, so a run of
//   leads has its indoor air between the values at its two ends.
// A run of grid leads is declared ok only when the bound over all its targets and indoor values
// is <= the run's smallest lead; otherwise it is split, down to single leads, where each target is
// either bounded or evaluated by advisedLeadMin itself. No lead is ever declared failing except by
// the exact evaluation, so the first failing grid lead, the 1-min refinement and the answer are the
// reference's. Floating point: the bound adds 1e-6 min + 1e-9 relative and widens the indoor range
// by 1e-9 K, far above the rounding differences (~1e-12) between two evaluation orders.
// ---------------------------------------------------------------------------------------------

/**
 * The features that are monomials ln_u^a · x^b · gap^c · cool^d of the non-negative base
 * quantities (so monotone in each), with their exponents [a, b, c, d]; checked against FEATURES
 * when a model is first used ({@link fastPathApplies}).
 */
const MONOMIALS: Readonly<Record<string, readonly [number, number, number, number]>> = {
  one: [0, 0, 0, 0], ln_u: [1, 0, 0, 0], ln_u2: [2, 0, 0, 0], ln_u3: [3, 0, 0, 0],
  x: [0, 1, 0, 0], x2: [0, 2, 0, 0], x3: [0, 3, 0, 0], gap: [0, 0, 1, 0], gap2: [0, 0, 2, 0],
  cool: [0, 0, 0, 1], cool2: [0, 0, 0, 2], ln_u_x: [1, 1, 0, 0], ln_u_gap: [1, 0, 1, 0],
  x_gap: [0, 1, 1, 0], cool_x: [0, 1, 0, 1], cool_ln_u: [1, 0, 0, 1], cool_gap: [0, 0, 1, 1],
  cool_x2: [0, 2, 0, 1], ln_u2_x: [2, 1, 0, 0],
};
const BOUND_ABS_SLACK_MIN = 1e-6;
const BOUND_REL_SLACK = 1e-9;
const INDOOR_SLACK_K = 1e-9;

/** One regression compiled for the bound: for feature i, offsets into the corners' power table. */
interface BoundRegression {
  /**
   * 4·n offsets into {@link powers}: ln_u, x, gap, cool of the corner the weight's sign picks
   * (exponent e of quantity q at 4q + e, + 16 for the low corner when w < 0).
   */
  idx: Int32Array;
  w: Float64Array;
  min: Float64Array;
  max: Float64Array;
}

const boundRegressions = new WeakMap<ClassModel, BoundRegression>();

function boundRegression(cls: ClassModel): BoundRegression {
  let r = boundRegressions.get(cls);
  if (!r) {
    const n = cls.features.length;
    const idx = new Int32Array(4 * n);
    cls.features.forEach((name, i) => {
      const e = MONOMIALS[name]!;
      for (let q = 0; q < 4; q++) idx[4 * i + q] = 4 * q + e[q]! + (cls.weights[i]! >= 0 ? 0 : 16);
    });
    r = {
      idx,
      w: Float64Array.from(cls.weights),
      min: Float64Array.from(cls.feature_min),
      max: Float64Array.from(cls.feature_max),
    };
    boundRegressions.set(cls, r);
  }
  return r;
}

const fastOk = new WeakMap<LeadModel, boolean>();

/**
 * Whether the fast path's bounds hold for this model: every feature a known monomial (and FEATURES
 * computing that monomial), cool-down curves with non-negative weights and positive time constants.
 * Otherwise the reference scan answers.
 */
function fastPathApplies(model: LeadModel): boolean {
  let ok = fastOk.get(model);
  if (ok === undefined) {
    const probe: BaseQuantities = { u: 0.5, ln_u: 0.37, x: 0.81, gap: 3.3, cool: 5.9 };
    const q = [probe.ln_u, probe.x, probe.gap, probe.cool];
    const monomialOk = (n: string): boolean => {
      const e = MONOMIALS[n];
      const fn = FEATURES[n];
      if (!e || !fn) return false;
      const v = q.reduce((acc, base, k) => acc * base ** e[k]!, 1);
      return Math.abs(fn(probe) - v) <= 1e-12 * Math.max(1, Math.abs(v));
    };
    const regressionOk = (c: ClassModel): boolean => c.features.every(monomialOk) && (c.small_stove === undefined || regressionOk(c.small_stove));
    ok =
      Object.values(model.classes).every((c) => c !== undefined && regressionOk(c)) &&
      Object.values(model.cooldown.classes).every(
        (k) => k !== undefined && k.w_fast >= 0 && k.w_slow >= 0 && k.tau_fast_min > 0 && k.tau_slow_min > 0,
      );
    fastOk.set(model, ok);
  }
  return ok;
}

/** Power table of the two corners: [q^0..q^3] for q = ln_u, x, gap, cool; high corner at 0, low at 16. */
const powers = new Float64Array(32);

function setPowers(t: Float64Array, at: number, u: number, x: number, gap: number, cool: number): void {
  const uc = Math.min(U_MAX, Math.max(0, u));
  const lnU = -Math.log(1 - uc);
  const l2 = lnU * lnU;
  const x2 = x * x;
  const g2 = gap * gap;
  const c2 = cool * cool;
  t[at] = 1; t[at + 1] = lnU; t[at + 2] = l2; t[at + 3] = l2 * lnU;
  t[at + 4] = 1; t[at + 5] = x; t[at + 6] = x2; t[at + 7] = x2 * x;
  t[at + 8] = 1; t[at + 9] = gap; t[at + 10] = g2; t[at + 11] = g2 * gap;
  t[at + 12] = 1; t[at + 13] = cool; t[at + 14] = c2; t[at + 15] = c2 * cool;
}

/** Whether a box of targets [tLo, tHi] x indoor air [iLo, iHi] is proven to advise at most `lead` minutes. */
type BoxBound = (tLo: number, tHi: number, iLo: number, iHi: number, lead: number) => boolean;

/**
 * The proven bound of advisedLeadMin(model, cls, {outdoorC, indoorC: I, targetC: t, powerKw}) over
 * a box (see the comment above): true only if every (t, I) of the box advises at most `lead` min
 * (margin included), with the slacks above; false when it cannot tell (or u may reach 1).
 */
function boxBound(model: LeadModel, cls: ClassModel, outdoorC: number, powerKw: number): BoxBound {
  const small = cls.small_stove;
  if (small && powerKw < small.below_kw) {
    const a = boxBound(model, small, outdoorC, powerKw);
    const b = boxBound(model, cls, outdoorC, small.below_kw);
    return (tLo, tHi, iLo, iHi, lead) => a(tLo, tHi, iLo, iHi, lead) && b(tLo, tHi, iLo, iHi, lead);
  }
  const h = cls.h_eff_w_per_k;
  const top = outdoorC + (powerKw * 1000) / h;
  const xScale = powerKw * 1000;
  const cap = Math.log(model.max_lead_min + model.offset_min) + 2;
  const offset = model.offset_min;
  const { idx, w, min, max } = boundRegression(cls);
  const n = w.length;
  const mb = cls.margin_by_lead;
  const mc = cls.margin_by_ceiling;
  return (tLo, tHi, iLo, iHi, lead) => {
    if (iLo >= tHi) return lead >= 0;
    if (!(tHi < top) || !(top - iHi > 0)) return false;
    const uHi = (tHi - iLo) / (top - iLo);
    if (!(uHi < 1 - 1e-9)) return false;
    const uLo = (tLo - iHi) / (top - iHi);
    const t = powers;
    setPowers(t, 0, uHi, Math.max(0, ((tHi - outdoorC) * h) / xScale), Math.max(0, tHi - iLo), Math.max(0, 20 - iLo));
    setPowers(t, 16, uLo, Math.max(0, ((tLo - outdoorC) * h) / xScale), Math.max(0, tLo - iHi), Math.max(0, 20 - iHi));
    let z = 0;
    for (let i = 0; i < n; i++) {
      const k = 4 * i;
      const v = t[idx[k]!]! * t[idx[k + 1]!]! * t[idx[k + 2]!]! * t[idx[k + 3]!]!;
      z += w[i]! * Math.min(max[i]!, Math.max(min[i]!, v));
    }
    const raw = Math.exp(Math.min(z, cap));
    // the largest margin factor of the lead regions at or below raw
    let mf: number;
    if (!mb) mf = cls.margin_factor;
    else {
      mf = mb.factor[0]!;
      const rawLead = raw - offset + BOUND_ABS_SLACK_MIN;
      for (let i = 1; i < mb.from_min.length && rawLead >= mb.from_min[i]!; i++) mf = Math.max(mf, mb.factor[i]!);
    }
    // the largest ceiling factor of the regions at or above the smallest ceiling margin (at tHi)
    let cf = 1;
    if (mc) {
      const marginK = top - tHi - 1e-9;
      for (let i = 0; i < mc.below_k.length && marginK < mc.below_k[i]!; i++) cf = Math.max(cf, mc.factor[i]!);
    }
    const upper = Math.max(0, raw * Math.max(mf, cf) - offset);
    return upper * (1 + BOUND_REL_SLACK) + BOUND_ABS_SLACK_MIN <= lead;
  };
}

/**
 * The default-path lead of one class as {@link defaultPathLead} computes it, or undefined where
 * that one is undefined (the 9 h lead fails); null when its lead is proven <= `floor` (the caller
 * only takes a maximum).
 */
function defaultPathLeadFast(model: LeadModel, dpeClass: DpeClass, input: ClassPredictInput, targetMin: number, floor: number): { lead: number; indoor: number } | undefined | null {
  const cls = model.classes[dpeClass]!;
  const curve = model.cooldown.classes[dpeClass]!;
  const maxLead = model.max_lead_min;
  const step = DEFAULT_PATH_STEP_MIN;
  const stoveOff = Math.min(clockToMinutes(model.cooldown.stove_off) - 1440, targetMin - maxLead);
  const evening = model.cooldown.evening_air_temp_c;
  const o = input.outdoorC;
  const p = input.powerKw;
  const indoorAt = (lead: number): number => cooledAirC(curve, evening, o, targetMin - lead - stoveOff);
  const bound = boxBound(model, cls, o, p);
  // the target grid exactly as classLeadMin walks it, down below every indoor value of the night
  const lowest = Math.min(indoorAt(0), indoorAt(maxLead)) - 1;
  const ts: number[] = [input.targetC];
  for (let t = input.targetC - TARGET_STEP_K; t > lowest; t -= TARGET_STEP_K) ts.push(t);
  const lastAbove = (indoor: number): number => {
    let b = 0;
    while (b + 1 < ts.length && ts[b + 1]! > indoor) b++;
    return b;
  };
  // target j fails at a lead L (indoor I): it is walked (j = 0, or ts[j] > I) and advises more than L
  const fails = (j: number, indoor: number, lead: number): boolean =>
    (j === 0 || ts[j]! > indoor) && !(advisedLeadMin(model, cls, { outdoorC: o, indoorC: indoor, targetC: ts[j]!, powerKw: p }) <= lead);
  // exactly the reference's ok(lead): no target fails (groups of 1, 2, 4... targets, each bounded,
  // else halved down to single targets computed)
  const groupOk = (indoor: number, lead: number, a: number, b: number): boolean => {
    if (bound(ts[b]!, ts[a]!, indoor, indoor, lead)) return true;
    if (a === b) return !fails(a, indoor, lead);
    const m = (a + b) >> 1;
    return groupOk(indoor, lead, a, m) && groupOk(indoor, lead, m + 1, b);
  };
  const ok = (lead: number): boolean => {
    const indoor = indoorAt(lead);
    const b = lastAbove(indoor);
    for (let a = 0, size = 1; a <= b; a += size, size *= 2) if (!groupOk(indoor, lead, a, Math.min(b, a + size - 1))) return false;
    return true;
  };
  const grid = (k: number): number => maxLead - step * k;
  const last = Math.floor(maxLead / step);
  const indoorGrid = new Float64Array(last + 1).fill(Number.NaN);
  const gridIndoor = (k: number): number => {
    let v = indoorGrid[k]!;
    if (Number.isNaN(v)) v = indoorGrid[k] = indoorAt(grid(k));
    return v;
  };
  // every target of ts[a..b] proven to advise at most `lead` over indoor [iLo, iHi] (halved on failure)
  const groupProven = (iLo: number, iHi: number, lead: number, a: number, b: number): boolean => {
    if (bound(ts[b]!, ts[a]!, iLo, iHi, lead)) return true;
    if (a === b) return false;
    const m = (a + b) >> 1;
    return groupProven(iLo, iHi, lead, a, m) && groupProven(iLo, iHi, lead, m + 1, b);
  };
  // every grid lead of k0..k1 proven ok: the top target alone (usually the longest lead: its failure
  // ends it), then all the others at once, else groups of 1, 2, 4... of them
  const runProven = (k0: number, k1: number): boolean => {
    const i0 = gridIndoor(k0);
    const i1 = gridIndoor(k1);
    const iLo = Math.min(i0, i1) - INDOOR_SLACK_K;
    const iHi = Math.max(i0, i1) + INDOOR_SLACK_K;
    const lead = grid(k1);
    const b = lastAbove(iLo);
    if (!bound(ts[0]!, ts[0]!, iLo, iHi, lead)) return false;
    if (b > 0 && bound(ts[b]!, ts[1]!, iLo, iHi, lead)) return true;
    for (let a = 1, size = 1; a <= b; a += size, size *= 2) if (!groupProven(iLo, iHi, lead, a, Math.min(b, a + size - 1))) return false;
    return true;
  };
  // the smallest k in [0, stop] (the longest grid lead) that fails, or -1: runs of grid leads from
  // 9 h down, proven ok at once, doubled after a proof and halved after a miss, down to single
  // leads evaluated exactly
  const firstFail = (stop: number): number => {
    let k = 0;
    let size = 4;
    while (k <= stop) {
      const k1 = Math.min(stop, k + size - 1);
      if (k1 === k) {
        if (!ok(grid(k))) return k;
        k++;
        size = 2;
      } else if (runProven(k, k1)) {
        k = k1 + 1;
        size *= 2;
      } else size >>= 1;
    }
    return -1;
  };
  // below floor: once every grid lead >= G <= floor is ok, the answer is <= G
  const stop = floor === Number.NEGATIVE_INFINITY || floor < 0 ? last : Math.min(last, Math.ceil((maxLead - floor) / step));
  const f = firstFail(stop);
  let lead: number;
  if (f < 0) {
    if (stop < last) return null;
    lead = grid(last);
    for (let l = 0; l < grid(last); l++) {
      if (ok(l)) {
        lead = l;
        break;
      }
    }
  } else {
    if (f === 0) return undefined;
    lead = grid(f - 1);
    for (let l = grid(f) + 1; l < grid(f - 1); l++) {
      if (ok(l)) {
        lead = l;
        break;
      }
    }
  }
  return { lead, indoor: indoorAt(lead) };
}

/**
 * classAnswer without an indoor reading, through {@link defaultPathLeadFast}: the asked class first
 * (its refusal (3) is its 9 h lead failing), then each better class only where it may raise the
 * lead. Undefined where the fast path does not apply (the reference answers).
 */
function classAnswerFast(model: LeadModel, input: ClassPredictInput, targetMin: number, floor: number): { lead: number; indoor: number } | { reason: string } | undefined {
  if (!model.classes[input.dpeClass] || !model.cooldown.classes[input.dpeClass] || !fastPathApplies(model)) return undefined;
  const refused = ceilingRefusalReason(model, input);
  if (refused !== undefined) return { reason: refused };
  const own = defaultPathLeadFast(model, input.dpeClass, input, targetMin, floor);
  if (own === undefined) return { reason: tooLongSentence(model, input) };
  // below the floor: a placeholder lead (<= floor), no indoor (the caller keeps its own)
  let lead = own === null ? floor : own.lead;
  for (const c of DPE_CLASSES) {
    if (c === input.dpeClass) break;
    if (model.classes[c] && model.cooldown.classes[c]) {
      const r = defaultPathLeadFast(model, c, input, targetMin, Math.max(lead, floor));
      if (r) lead = Math.max(lead, r.lead);
    }
  }
  return { lead, indoor: own === null ? Number.NaN : own.indoor };
}

/** `1 h 48 min`, `25 min`, `2 h`. */
export function formatDuration(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${m} min`;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}
