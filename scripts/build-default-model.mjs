#!/usr/bin/env node
// Rebuild the shipped default model (models/default/model.json + model_card.md) from the build in
// dist/: `npm run model:default`. Deterministic: the committed files must not change.
// `--check`: write nothing, exit 1 if a rebuild would change the committed files.
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeDefaultModel } from '../dist/model/default-model.js';
import { assetPath } from '../dist/paths.js';

if (process.argv.includes('--check')) {
  const saved = await writeDefaultModel(path.join(mkdtempSync(path.join(os.tmpdir(), 'watt-default-')), 'default'));
  const differs = ['model.json', 'model_card.md'].filter(
    (f) => readFileSync(path.join(saved.dir, f), 'utf8') !== readFileSync(assetPath('models', 'default', f), 'utf8'),
  );
  if (differs.length) {
    process.stderr.write(`models/default differs from a rebuild: ${differs.join(', ')} (run npm run model:default)\n`);
    process.exitCode = 1;
  } else process.stdout.write('models/default is reproduced byte for byte\n');
} else {
  const saved = await writeDefaultModel();
  process.stdout.write(`wrote ${saved.modelFile} and ${saved.cardFile}\n`);
}
