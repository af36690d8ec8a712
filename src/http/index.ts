export { createAdminApp, ALL_ROUTES, type AdminAppOptions } from './app.js';
export {
  serveAdmin,
  isLoopback,
  InsecureBindError,
  type ServeAdminOptions,
  type AdminServer,
} from './serve.js';
export { buildOpenApi, type OpenApiDocument, type OpenApiOperation } from './openapi.js';
export { HttpError, type ErrorBody, type ErrorLogger, type HttpErrorCode } from './errors.js';
export type { AuthOptions } from './security.js';
export type { RouteDef } from './route.js';
