#!/usr/bin/env node
/**
 * Extract the true and false examples of gitleaks' rule generators
 * (https://github.com/gitleaks/gitleaks, cmd/generate/config/rules/*.go, MIT licence,
 * Copyright (c) 2019 Zachary Rice) and write them beside watt's secret rules
 * (src/audit/rules/secrets.json, `examples.gitleaks` of each rule that claims the family).
 *
 * gitleaks builds its examples in Go (random tokens from regexes, 26 sample contexts per token by
 * `GenerateSampleSecrets`); Go is not needed here: each generator function's body (after the rule
 * definition) is translated to JavaScript by a small lexer (strings, raw strings, comments,
 * `[]string{}`, `:=`, `append(x, y...)`, `for range`), random tokens come from `randexp`, then the
 * function is run. Functions the translation cannot run are listed and skipped.
 *
 * Usage: node scripts/gitleaks-examples.mjs <gitleaks git dir or checkout> [--commit SHA]
 * Dev-only (randexp is a devDependency); the output is data checked by
 * tests/audit/secret-rules.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import RandExp from 'randexp';

const [repo] = process.argv.slice(2);
if (!repo) {
  console.error('usage: node scripts/gitleaks-examples.mjs <gitleaks git dir>');
  process.exit(2);
}
const git = (...args) => execFileSync('git', ['--git-dir', repo, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
const commit = git('rev-parse', 'HEAD').trim();
const files = git('ls-tree', '--name-only', 'HEAD', 'cmd/generate/config/rules/').split('\n').filter((f) => f.endsWith('.go'));
const samplesSource = git('show', 'HEAD:cmd/generate/config/utils/generate.go');

// Which gitleaks rules (by RuleID, a regex) each watt rule claims.
const CLAIMS = {
  'github-pat': /^github-pat$/,
  'github-oauth': /^github-oauth$/,
  'github-app-token': /^github-app-token$/,
  'github-refresh-token': /^github-refresh-token$/,
  'github-fine-grained-pat': /^github-fine-grained-pat$/,
  'gitlab-pat': /^gitlab-(pat|pat-routable)$/,
  'gitlab-runner-token': /^gitlab-runner-authentication-token(-routable)?$/,
  'gitlab-token': /^gitlab-(cicd-job-token|deploy-token|feature-flag-client-token|feed-token|incoming-mail-token|kubernetes-agent-token|oauth-app-secret|ptt|scim-token|session-cookie|rrt)$/,
  'npm-access-token': /^npm-access-token$/,
  'pypi-upload-token': /^pypi-upload-token$/,
  'slack-token': /^slack-(bot|user|app|config-access|config-refresh|legacy-bot|legacy-workspace|legacy)-?token$/,
  'slack-webhook': /^slack-webhook-url$/,
  'stripe-secret-key': /^stripe-access-token$/,
  'sendgrid-api-key': /^sendgrid-api-token$/,
  'twilio-api-key': /^twilio-api-key$/,
  'huggingface-token': /^huggingface-(access|organization-api)-token$/,
  'openai-api-key': /^openai-api-key$/,
  'anthropic-api-key': /^anthropic-(api|admin-api)-key$/,
  'aws-access-key-id': /^aws-access-token$/,
  'gcp-api-key': /^gcp-api-key$/,
  'private-key': /^private-key$/,
  jwt: /^jwt$/,
  'telegram-bot-token': /^telegram-bot-api-token$/,
  'generic-secret': /^generic-api-key$/,
};

// --- GenerateSampleSecrets: the sample contexts, read from gitleaks' own source -----------------
const samples = [];
{
  const body = samplesSource.slice(samplesSource.indexOf('samples := map[string]string{'), samplesSource.indexOf('replacer := strings.NewReplacer'));
  for (const line of body.split('\n')) {
    const t = line.trim();
    if (t.startsWith('//')) continue;
    const m = /^"[^"]*":\s*(.*),\s*$/.exec(t);
    if (m) samples.push(evalGoString(m[1]));
  }
}
function evalGoString(lit) {
  if (lit.startsWith('`')) return lit.slice(1, -1);
  return JSON.parse(lit.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1'));
}

// --- the runtime the translated generators call ------------------------------------------------
const rt = {
  GenerateSampleSecrets: (i, s) => samples.map((v) => v.replaceAll('{i}', i).replaceAll('{I}', i.toUpperCase()).replaceAll('{s}', s)),
  GenerateSampleSecret: (i, s) => `${i}_api_token = "${s}"`,
  NewSecret: (re) => {
    const src = re.replace(/\(\?-i:([^)]*)\)/g, '(?:$1)').replace(/^\(\?i\)/, '');
    const r = new RandExp(new RegExp(src));
    r.max = 8;
    return r.gen();
  },
  Numeric: (n) => `[0-9]{${n}}`,
  Hex: (n) => `[a-f0-9]{${n}}`,
  AlphaNumeric: (n) => `[a-z0-9]{${n}}`,
  AlphaNumericExtendedShort: (n) => `[a-z0-9_-]{${n}}`,
  AlphaNumericExtended: (n) => `[a-z0-9=_\\-]{${n}}`,
  AlphaNumericExtendedLong: (n) => `[a-z0-9\\/=_\\+\\-]{${n}}`,
  Hex8_4_4_4_12: () => '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
  Sprintf: (fmt, ...args) => {
    let i = 0;
    return fmt.replace(/%[sdv]/g, () => String(args[i++]));
  },
  append: (arr, ...items) => [...(arr ?? []), ...items.flat()],
  Repeat: (s, n) => s.repeat(n),
  ToUpper: (s) => s.toUpperCase(),
  ToLower: (s) => s.toLowerCase(),
  len: (x) => x.length,
};
rt.newPlausibleSecret = (re) => {
  for (let n = 0; n < 1000; n++) {
    const s = rt.NewSecret(re);
    if (/[1-9]/.test(s)) return s;
  }
  throw new Error(`no plausible secret for ${re}`);
};

// --- a Go-subset lexer + translator -------------------------------------------------------------
/** Split Go source into code and string/comment tokens. */
function lex(src) {
  const out = [];
  let code = '';
  for (let i = 0; i < src.length; ) {
    const c = src[i];
    if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i);
      i = end < 0 ? src.length : end;
    } else if (c === '/' && src[i + 1] === '*') {
      i = src.indexOf('*/', i) + 2;
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) throw new Error(`unterminated raw string at ${JSON.stringify(src.slice(i - 80, i + 40))}`);
      out.push({ code }, { str: src.slice(i + 1, end) });
      code = '';
      i = end + 1;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (src[j] !== c) {
        if (j >= src.length || src[j] === '\n') throw new Error('unterminated string');
        j += src[j] === '\\' ? 2 : 1;
      }
      out.push({ code }, { str: evalGoString(c === "'" ? `"${src.slice(i + 1, j)}"` : src.slice(i, j + 1)) });
      code = '';
      i = j + 1;
    } else {
      code += c;
      i++;
    }
  }
  out.push({ code });
  return out;
}

function translate(body) {
  // `var ( a = x \n b = y )` blocks: their assignments, one per line.
  const tokens = lex(body.replace(/\bvar \(\n([\s\S]*?)\n\t\)/g, '$1'));
  let js = '';
  const stack = [];
  for (const t of tokens) {
    if (t.str !== undefined) {
      js += JSON.stringify(t.str);
      continue;
    }
    let c = t.code
      .replace(/\b(?:utils|secrets|fmt|strings)\./g, '')
      .replace(/\bfor\s+_,\s*(\w+)\s*:=\s*range\s+([^{]+)\{/g, 'for (const $1 of $2) {')
      .replace(/\bfor\s+(\w+),\s*_\s*:=\s*range\s+([^{]+)\{/g, 'for (const $1 in $2) {')
      .replace(/\[\]string\s*\{/g, '[/*arr*/')
      .replace(/\bvar\s+(\w+)(?:\s+\[?\]?\w+)?\s*=/g, '$1 =')
      .replace(/\b(\w+)\s*:=/g, '$1 =')
      .replace(/\.\.\.\s*\)/g, ')')
      .replace(/\bnil\b/g, 'null')
      .replace(/return\s+(?:Validate|ValidateWithPaths)\s*\(\s*r\s*,\s*(\w+)\s*,\s*(\w+)\s*\)/g, 'return [$1, $2]');
    // Match braces: `[/*arr*/` closes with `]`; the var block `{` closes with `}`.
    let out = '';
    for (let i = 0; i < c.length; i++) {
      if (c.startsWith('[/*arr*/', i)) {
        stack.push(']');
        out += '[';
        i += 7;
      } else if (c[i] === '{') {
        stack.push('}');
        out += '{';
      } else if (c[i] === '}') {
        out += stack.pop() ?? '}';
      } else out += c[i];
    }
    js += out;
  }
  return js;
}

/** The generator functions of one file: name, RuleID, and the body after the rule definition. */
function generators(src) {
  const out = [];
  const re = /^func (\w+)\(\) \*config\.Rule \{\n([\s\S]*?)^\}$/gm;
  for (const m of src.matchAll(re)) {
    const body = m[2];
    const id = /RuleID:\s*"([^"]+)"/.exec(body)?.[1];
    if (!id) continue;
    // Skip the rule definition: everything up to the first `tps` assignment.
    const start = body.search(/^\s*(?:\/\/.*\n\s*)*(?:tps|var\s*\(|\w+\s*:=\s*(?:utils|secrets|\[\]string|fmt|"|`))/m);
    const defEnd = body.indexOf('\n\t}\n', body.indexOf('config.Rule{'));
    const from = Math.max(defEnd + 3, start);
    out.push({ name: m[1], id, body: body.slice(from) });
  }
  return out;
}

const results = new Map(); // watt rule id -> { true, false, sources }
const skipped = [];
for (const file of files) {
  const src = git('show', `HEAD:${file}`);
  for (const g of generators(src)) {
    const watt = Object.keys(CLAIMS).find((k) => CLAIMS[k].test(g.id));
    if (!watt) continue;
    if (process.env.DEBUG) console.error(file, g.name);
    let tps;
    let fps;
    try {
      const js = translate(g.body.replace(/^\s*r\.[\s\S]*?\n(?=\s*(?:tps|fps|return))/m, ''));
      const fn = new Function(...Object.keys(rt), `"use strict"; let tps, fps, r; ${js.replace(/^(\s*)(\w+)(?=\s*=[^=])/gm, (m0, sp, name) => ([`tps`, `fps`, `r`].includes(name) ? m0 : `${sp}var ${name}`))}`);
      [tps, fps] = fn(...Object.values(rt));
    } catch (err) {
      skipped.push(`${file} ${g.name} (${g.id}): ${err.message}`);
      continue;
    }
    const entry = results.get(watt) ?? { true: [], false: [], sources: [] };
    entry.true.push(...(tps ?? []));
    entry.false.push(...(fps ?? []));
    entry.sources.push(`${file.split('/').pop()} ${g.name} (${g.id})`);
    results.set(watt, entry);
  }
}

const rulesFile = new URL('../src/audit/rules/secrets.json', import.meta.url);
const set = JSON.parse(readFileSync(rulesFile, 'utf8'));
set.gitleaksExamples = {
  source: `https://github.com/gitleaks/gitleaks cmd/generate/config/rules/*.go at ${commit}`,
  licence: 'MIT, Copyright (c) 2019 Zachary Rice: the examples below are gitleaks\' (random tokens regenerated by scripts/gitleaks-examples.mjs)',
};
// gitleaks' DefaultStopWords (stopwords.go): a generic secret containing one is not reported.
const stopwords = [...git('show', 'HEAD:cmd/generate/config/rules/stopwords.go').matchAll(/^\s*"([^"]+)",/gm)].map((m) => m[1]);
const generic = set.rules.find((r) => r.id === 'generic-secret');
if (generic) {
  generic.allowlist ??= {};
  // generic-api-key adds one to the defaults (https://github.com/gitleaks/gitleaks: yarnpkg/berry#6201).
  generic.allowlist.stopwords = [...stopwords, '6fe4476ee5a1832882e326b506d14126'];
}
for (const rule of set.rules) {
  const e = results.get(rule.id);
  if (!e) {
    delete rule.examples.gitleaks;
    continue;
  }
  // A false example of one gitleaks rule that is a true example of another rule of the same family stays true.
  const positives = new Set(e.true);
  // AnthropicApiKey lists this admin key among its false examples: it is a true one of
  // AnthropicAdminApiKey, and watt's anthropic-api-key covers both.
  if (rule.id === 'anthropic-api-key') positives.add('sk-ant-admin01-abc123xyz-456def789ghij-klmnopqrstuvwx-3456yza789bcde-1234fghijklmnopby56aaaogaopaaaabc123xyzAA'); // gitleaks:allow
  rule.examples.gitleaks = { from: e.sources, true: [...new Set(e.true)], false: [...new Set(e.false)].filter((x) => !positives.has(x)) };
}
writeFileSync(rulesFile, `${JSON.stringify(set, null, 2)}\n`);
for (const [id, e] of results) console.log(`${id}: ${e.true.length} true, ${e.false.length} false from ${e.sources.length} generator(s)`);
const unclaimed = Object.keys(CLAIMS).filter((k) => !set.rules.some((r) => r.id === k));
if (unclaimed.length) console.log(`not in secrets.json (examples not written): ${unclaimed.join(', ')}`);
for (const s of skipped) console.log(`skipped: ${s}`);
