#!/usr/bin/env node
// Rebuild the shipped default model (models/default/model.json + model_card.md) from the build in
// dist/: `npm run model:default`. Deterministic: the committed files must not change.
import { writeDefaultModel } from '../dist/model/default-model.js';

const saved = await writeDefaultModel();
process.stdout.write(`wrote ${saved.modelFile} and ${saved.cardFile}\n`);
