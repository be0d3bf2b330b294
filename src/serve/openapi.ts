import { errorSchema, healthSchema, predictBodySchema, predictionSchema, readySchema } from './schemas.js';
import { dashboardPaths } from './dashboard/openapi.js';

/**
 * The OpenAPI 3.1 document of `watt serve` (`GET /openapi.json`), built from the same schema
 * objects fastify validates requests with (schemas.ts). JSON Schema 2020-12 is OpenAPI 3.1's
 * schema dialect, and these schemas use only keywords common to draft-07 and 2020-12.
 */
export function openApiDocument(version: string): Record<string, unknown> {
  const strip = <T extends { $id?: string }>(s: T): Omit<T, '$id'> => {
    const { $id: _id, ...rest } = s;
    return rest;
  };
  const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });
  const error = (description: string) => ({ description, content: json('Error') });
  return {
    openapi: '3.1.0',
    info: {
      title: 'watt serve',
      version,
      description: 'When to light a wood-pellet stove so that the room reaches its target temperature at the target time. The same answers as `watt predict --json`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    components: {
      schemas: { PredictRequest: strip(predictBodySchema), Prediction: strip(predictionSchema), Error: strip(errorSchema) },
      securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'watt_session', description: 'dashboard session from POST /ui/login (HttpOnly, SameSite=Strict, 8 h)' }, apiKey: { type: 'apiKey', in: 'header', name: 'X-API-KEY', description: 'one of the keys of WATT_API_KEYS (comma-separated: two keys are valid at once during a rotation)' } },
    },
    paths: {
      '/v1/predict': {
        post: {
          operationId: 'predict',
          summary: 'ignition time of the stove for one night',
          security: [{ apiKey: [] }],
          requestBody: { required: true, content: json('PredictRequest') },
          responses: {
            '200': { description: 'a prediction; an infeasible night has feasible: false and a reason', content: json('Prediction') },
            '400': error('the body fails the schema (details name the fields), is not JSON, or is outside the model range'),
            '401': error('missing or wrong X-API-KEY'),
            '413': error('body over 16 KiB'),
            '415': error('content type other than application/json'),
            '503': error('no model loaded, or the server is shutting down'),
          },
        },
      },
      '/healthz': { get: { operationId: 'healthz', summary: 'liveness', responses: { '200': { description: 'alive', content: { 'application/json': { schema: healthSchema } } } } } },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'readiness: a model is loaded (with its version)',
          responses: {
            '200': { description: 'ready', content: { 'application/json': { schema: readySchema } } },
            '503': { description: 'no model loaded, or shutting down', content: { 'application/json': { schema: readySchema } } },
          },
        },
      },
      '/metrics': { get: { operationId: 'metrics', summary: 'Prometheus metrics (text exposition format 0.0.4)', responses: { '200': { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      ...dashboardPaths(),
      '/openapi.json': { get: { operationId: 'openapi', summary: 'this document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    },
  };
}
