/**
 * One server for every house (issue 19, item 6): `house_id` in `POST /v1/predict` picks the house's
 * model from the registry (`<WATT_HOME>/models/houses/<id>/<version>/`), loaded lazily and kept in an
 * LRU; an unknown house is a 404, a malformed id a 400 (no path traversal), a `dpe_class` that
 * contradicts the house's model a 400 naming both; HTTP and `watt predict --house` share one set of
 * defaults; no response carries a server file path; a model saved with `quality: poor` answers with
 * a warning. Real HTTP on 127.0.0.1, the real CLI for the comparison.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import path from 'node:path';
import { buildApp, type WattApp } from '../../src/serve/app.js';
import { loadPredictor } from '../../src/serve/predictor.js';
import { HouseModelRegistry } from '../../src/serve/model-registry.js';
import { heatingSeasonNights, loadDailyWeather } from '../../src/model/weather.js';
import { HOUSE_ONE, HOUSE_TWO, testHistory } from '../../src/model/test-houses.js';
import { fitHouse } from '../../src/model/house-train.js';
import { saveHouseModel } from '../../src/model/model-store.js';
import type { HouseModel } from '../../src/model/house-model.js';
import { runWatt, scratchDir } from '../helpers/cli.js';

const weather = heatingSeasonNights(loadDailyWeather());
const opts = (version: string) => ({ version, createdAt: null, wattVersion: 'test', training: { source: 'file' as const, name: 't.csv', sha256: 'x', rows: 0 } });
const houseOne = fitHouse(testHistory(HOUSE_ONE, weather).nights.slice(0, 120).map((n) => n.record), opts('v1-one'));
const houseTwo = fitHouse(testHistory(HOUSE_TWO, weather).nights.slice(0, 120).map((n) => n.record), opts('v1-two'));

describe('watt serve: many houses', () => {
  const home = scratchDir('watt-serve-houses-');
  let s: { watt: WattApp; url: string };
  beforeAll(async () => {
    saveHouseModel(houseOne, home, 'house-1');
    saveHouseModel(houseTwo, home, 'house_2');
    const poor: HouseModel = { ...houseOne, version: 'v1-poor', quality: { status: 'poor', reasons: ['bias +40 min is beyond ±15 min'] } };
    saveHouseModel(poor, home, 'poor');
    const watt = await buildApp({ keys: null, load: () => loadPredictor({ home }), log: () => {} });
    s = { watt, url: await watt.app.listen({ host: '127.0.0.1', port: 0 }) };
  });
  afterAll(async () => {
    await s.watt.app.close();
  });
  const post = (body: unknown) => fetch(`${s.url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('each house answers from its own model; without house_id the default model (shipped) answers', async () => {
    const one = (await (await post({ house_id: 'house-1', outdoor_temp_c: 2, indoor_temp_c: 15 })).json()) as Record<string, unknown>;
    const two = (await (await post({ house_id: 'house_2', outdoor_temp_c: 2, indoor_temp_c: 15 })).json()) as Record<string, unknown>;
    expect(one).toMatchObject({ feasible: true, model_version: 'v1-one', house_id: 'house-1', model_origin: 'registry', inputs: { dpe_class: 'D' } });
    expect(two).toMatchObject({ feasible: true, model_version: 'v1-two', house_id: 'house_2', inputs: { dpe_class: 'C' } });
    expect(one.lead_time_min).not.toBe(two.lead_time_min);
    const def = (await (await post({ dpe_class: 'C', outdoor_temp_c: 2 })).json()) as Record<string, unknown>;
    expect(def).toMatchObject({ model_origin: 'shipped' });
    expect(def.house_id).toBeUndefined();
  });

  test('no response carries a server file path', async () => {
    for (const body of [{ house_id: 'house-1', outdoor_temp_c: 2 }, { dpe_class: 'C', outdoor_temp_c: 2 }, { house_id: 'nobody', outdoor_temp_c: 2 }]) {
      const text = await (await post(body)).text();
      expect(text).not.toContain(home);
      expect(text).not.toMatch(/model\.json|"model_file"/);
    }
  });

  test('an unknown house is a 404; a malformed id (path traversal) a 400 naming the field', async () => {
    const res = await post({ house_id: 'nobody', outdoor_temp_c: 2 });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/^no model for house nobody: train one with watt train --data FILE --house nobody/);
    for (const id of ['../house-1', 'a/b', '', '.hidden', 'x'.repeat(65)]) {
      const bad = await post({ house_id: id, outdoor_temp_c: 2 });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { details: { field: string }[] }).details[0]!.field).toBe('house_id');
    }
  });

  test("a dpe_class that contradicts the house's model is a 400 naming both; the same class is accepted", async () => {
    const res = await post({ house_id: 'house-1', dpe_class: 'C', outdoor_temp_c: 2 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/DPE class C contradicts the house model v1-one, calibrated as class D/);
    expect((await post({ house_id: 'house-1', dpe_class: 'D', outdoor_temp_c: 2 })).status).toBe(200);
  });

  test('HTTP and watt predict --house share one set of defaults (the house model\'s), and answer the same', async () => {
    const http = (await (await post({ house_id: 'house-1', outdoor_temp_c: 1 })).json()) as Record<string, unknown>;
    expect(http).toMatchObject({ inputs: { target_temp_c: 19.5, stove_power_kw: 9, target_time: '07:00' } });
    const cli = await runWatt(['predict', '--house', 'house-1', '--temp', '1', '--json'], { cwd: scratchDir(), env: { WATT_HOME: home } });
    expect(cli.code).toBe(0);
    const { model_file: _f, model_origin: origin, ...printed } = JSON.parse(cli.stdout) as Record<string, unknown>;
    expect(origin).toBe('registry');
    const { house_id: _h, model_origin: _o, ...served } = http;
    expect(served).toEqual(printed);
  });

  test('a model saved with quality: poor answers with a warning, over HTTP and on the command line', async () => {
    const http = (await (await post({ house_id: 'poor', outdoor_temp_c: 2, indoor_temp_c: 15 })).json()) as { warning?: string };
    expect(http.warning).toMatch(/failed its training's quality gate \(bias \+40 min is beyond ±15 min\)/);
    const cli = await runWatt(['predict', '--house', 'poor', '--temp', '2', '--indoor', '15'], { cwd: scratchDir(), env: { WATT_HOME: home } });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/\nwarning: model v1-poor failed its training's quality gate/);
  });
});

describe('the house model registry (LRU, lazy, picks up a retrained house)', () => {
  test('loads each house once, evicts the least recently used beyond its size, and reloads a newer version', () => {
    const home = scratchDir('watt-registry-');
    saveHouseModel(houseOne, home, 'a');
    saveHouseModel(houseTwo, home, 'b');
    let now = 0;
    const reg = new HouseModelRegistry(home, 1, 1000, () => now);
    expect(reg.get('a').version).toBe('v1-one');
    expect(reg.get('a').version).toBe('v1-one');
    expect(reg.stats()).toEqual({ size: 1, loads: 1 });
    expect(reg.get('b').version).toBe('v1-two');
    expect(reg.get('a').version).toBe('v1-one'); // 'a' was evicted by 'b': loaded again
    expect(reg.stats()).toEqual({ size: 1, loads: 3 });
    saveHouseModel({ ...houseOne, version: 'v2-one' }, home, 'a');
    expect(reg.get('a').version).toBe('v1-one'); // within the recheck period
    now = 1000;
    expect(reg.get('a').version).toBe('v2-one');
    expect(() => reg.get('../a')).toThrow(/invalid house id/);
    expect(path.isAbsolute(home)).toBe(true);
  });
});
