/**
 * The dashboard's JSON endpoints in `/openapi.json` (OpenAPI 3.1). Every `/ui/api/*` GET needs
 * the `X-API-KEY` header or the `watt_session` cookie; answers hold counts, dates, keys and
 * statuses, never personal data.
 */
export function dashboardPaths(): Record<string, unknown> {
  const security = [{ apiKey: [] }, { session: [] }];
  const obj = (properties: Record<string, unknown>) => ({ type: 'object', properties });
  const err = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
  const ok = (description: string, schema: Record<string, unknown>) => ({ description, content: { 'application/json': { schema } } });
  const runSummary = obj({
    run_id: { type: 'string' }, verb: { type: 'string' }, status: { type: 'string', enum: ['running', 'succeeded', 'failed', 'rejected', 'skipped', 'interrupted', 'cancelled'] },
    started_at: { type: 'string', format: 'date-time' }, finished_at: { type: ['string', 'null'] }, duration_s: { type: ['number', 'null'] },
    source: { type: ['string', 'null'], description: 'file name as in the manifest, identifiers redacted' }, prefix: { type: ['string', 'null'] },
    rows_in: { type: ['integer', 'null'] }, rows: { type: ['integer', 'null'] }, rejected: { type: ['integer', 'null'] }, objects: { type: ['integer', 'null'] },
    destination: { type: ['string', 'null'] }, exit_code: { type: ['integer', 'null'] }, error: { type: ['string', 'null'] },
  });
  const days = { name: 'days', in: 'query', required: false, schema: { type: 'string', enum: ['7', '30', '90', '365'] } };
  const get = (operationId: string, summary: string, response: Record<string, unknown>, parameters: unknown[] = []) => ({
    get: { operationId, summary, security, parameters, responses: { '200': response, '401': err('no session and no valid X-API-KEY') } },
  });
  return {
    '/ui/': { get: { operationId: 'dashboard', summary: 'the dashboard page (HTML; its data come from /ui/api/*)', responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } } },
    '/ui/login': {
      post: {
        operationId: 'login',
        summary: 'exchange an API key for a session cookie (HttpOnly, SameSite=Strict, Secure over TLS, 8 h)',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['key'], additionalProperties: false, properties: { key: { type: 'string', maxLength: 512 } } } } } },
        responses: { '200': ok('logged in; Set-Cookie: watt_session', obj({ auth: { type: 'string' }, expires_at: { type: 'string', format: 'date-time' } })), '401': err('wrong key') },
      },
    },
    '/ui/logout': { post: { operationId: 'logout', summary: 'end the session and clear the cookie', responses: { '204': { description: 'logged out' } } } },
    '/ui/api/session': get('session', 'how this request is authenticated', ok('authenticated', obj({ auth: { type: 'string', enum: ['none', 'session', 'api-key'] } }))),
    '/ui/api/runs': get('dashboardRuns', 'runs per day and prefix (rows landed, rows rejected, failures) and the newest 200 runs of the window', ok('runs', obj({
      since: { type: 'string' }, days: { type: 'integer' }, prefixes: { type: 'array', items: { type: 'string' } }, runs: { type: 'array', items: runSummary },
      points: { type: 'array', items: obj({ day: { type: 'string' }, prefix: { type: ['string', 'null'] }, runs: { type: 'integer' }, rows_landed: { type: 'integer' }, rows_rejected: { type: 'integer' }, failures: { type: 'integer' } }) },
    })), [days, { name: 'prefix', in: 'query', required: false, schema: { type: 'string' } }]),
    '/ui/api/runs/{run_id}': {
      get: {
        operationId: 'dashboardRun', summary: 'one run in full, as `watt runs RUN_ID` (objects with partitions, manifest, log, rejects by column and reason, trail entries without details)', security,
        parameters: [{ name: 'run_id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9A-Za-z_-]{1,80}$' } }],
        responses: { '200': ok('the run', { type: 'object' }), '401': err('no session and no valid X-API-KEY'), '404': err('no such run') },
      },
    },
    '/ui/api/lake': get('dashboardLake', 'live data objects and bytes per prefix and partition month; what the next `watt purge` would delete (policy as of now, as --dry-run; cached 1 minute)', ok('lake', obj({ partitions: { type: 'array' }, purge_preview: { type: 'array' } }))),
    '/ui/api/gdpr': get('dashboardGdpr', 'erasures and retention purges per day, the trail hash chain checked now, the last verify, verify-trail and audit-rgpd', ok('GDPR', obj({ days: { type: 'array' }, trail: { type: 'object' }, last_verify: {}, last_verify_trail: {}, last_audit: {} })), [days]),
    '/ui/api/model': get('dashboardModel', "the model in use: its card's hold-out MAE and late rate, learning curve, and predictions served per hour", ok('model', obj({ model: {}, predictions: { type: 'array' } }))),
  };
}
