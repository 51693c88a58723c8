/** The internal API's contract: imported by the frontend's routes, menage and the enforcer. */
export * from './ids.js';
export * from './internal-api.js';
export * from './labels.js';
export * from './schemas.js';
