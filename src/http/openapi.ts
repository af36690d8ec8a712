import type { JsonSchema, RouteDef } from './route.js';
import { SCHEMAS } from './schemas.js';
import { ref } from './schema-parts.js';

/** The parts of an OpenAPI 3.1 document this API uses. */
export interface OpenApiOperation {
  operationId: string;
  summary: string;
  tags: string[];
  parameters: {
    name: string;
    in: 'path' | 'query';
    required: boolean;
    description?: string;
    schema: JsonSchema;
  }[];
  requestBody?: { required: boolean; content: { 'application/json': { schema: JsonSchema } } };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema: JsonSchema }> } | { $ref: string }
  >;
  security?: Record<string, string[]>[];
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Partial<Record<'get' | 'post' | 'delete', OpenApiOperation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer' | 'basic' }>;
    responses: Record<
      string,
      { description: string; content: { 'application/json': { schema: JsonSchema } } }
    >;
  };
  security: Record<string, string[]>[];
}

const PATH_PARAMS: Record<string, [string, JsonSchema]> = {
  queue: ['Queue name.', { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$' }],
  id: ['Job id (for dead letters: the dead-letter id).', { type: 'string', pattern: '^[1-9][0-9]{0,18}$' }],
  groupKey: ['Group key (URL-encoded).', { type: 'string' }],
  name: ['Cron schedule name (URL-encoded).', { type: 'string', minLength: 1, maxLength: 200 }],
};

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ref('Error') } },
});

/** Builds the document from the same route list the router serves. */
export function buildOpenApi(
  routes: readonly RouteDef[],
  extra: { version: string; metrics: boolean; publicMetrics: boolean },
): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const r of routes) {
    const pathParams = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const mutating = r.method !== 'get';
    const op: OpenApiOperation = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      parameters: [
        ...pathParams.map((name) => ({
          name,
          in: 'path' as const,
          required: true,
          description: PATH_PARAMS[name]?.[0] ?? name,
          schema: PATH_PARAMS[name]?.[1] ?? { type: 'string' },
        })),
        ...(r.query ?? []).map((q) => ({ ...q, in: 'query' as const, required: false })),
      ],
      responses: {
        [String(r.status ?? 200)]: {
          description: 'Success.',
          content: { [r.contentType ?? 'application/json']: { schema: r.response } },
        },
        '400': { $ref: '#/components/responses/BadRequest' },
        '401': { $ref: '#/components/responses/Unauthorized' },
        '404': { $ref: '#/components/responses/NotFound' },
        '429': { $ref: '#/components/responses/RateLimited' },
        '500': { $ref: '#/components/responses/Internal' },
      },
    };
    if (mutating) {
      // Every mutating route takes JSON (CSRF defence), so even body-less ones declare a JSON body.
      op.requestBody = {
        required: r.body !== undefined,
        content: { 'application/json': { schema: r.body ?? { type: 'object', maxProperties: 0 } } },
      };
      op.responses['403'] = { $ref: '#/components/responses/Forbidden' };
      op.responses['409'] = { $ref: '#/components/responses/Conflict' };
      op.responses['413'] = { $ref: '#/components/responses/TooLarge' };
      op.responses['415'] = { $ref: '#/components/responses/UnsupportedMediaType' };
    }
    (paths[r.path] ??= {})[r.method] = op;
  }
  paths['/openapi.json'] = {
    get: {
      operationId: 'openapi',
      summary: 'This document.',
      tags: ['meta'],
      parameters: [],
      responses: {
        '200': {
          description: 'OpenAPI 3.1 document.',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
      },
    },
  };
  if (extra.metrics) {
    paths['/metrics'] = {
      get: {
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format).',
        tags: ['meta'],
        parameters: [],
        responses: {
          '200': {
            description: 'Prometheus text format.',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
        ...(extra.publicMetrics ? { security: [] } : {}),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Arbiter admin API',
      version: extra.version,
      description:
        'Operator API of an Arbiter job queue. Mutating requests need Content-Type: application/json and are refused cross-site.',
    },
    paths,
    components: {
      schemas: SCHEMAS,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        basic: { type: 'http', scheme: 'basic' },
      },
      responses: {
        BadRequest: errorResponse('Invalid parameter, body or JSON.'),
        Unauthorized: errorResponse('Missing or wrong credentials.'),
        Forbidden: errorResponse('Read-only mode, or a cross-site request.'),
        NotFound: errorResponse('Unknown queue, job or route.'),
        Conflict: errorResponse('The action does not apply to the job in its current state.'),
        TooLarge: errorResponse('Body or payload over the limit.'),
        UnsupportedMediaType: errorResponse('Body is not declared as application/json.'),
        RateLimited: errorResponse(
          'Too many failed logins from this address (RATE_LIMITED); or, for an enqueue with maxQueued, the ' +
            'queue is full (QUEUE_FULL, with Retry-After).',
        ),
        Internal: errorResponse('Internal error; details are only in the server log.'),
      },
    },
    security: [{ bearer: [] }, { basic: [] }],
  };
}
