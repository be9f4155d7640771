// The operator's deployment manifests: see ./manifests/index.ts. This file keeps the historic
// import path (and the one the generated files' header names) working.
export * from './manifests/index.ts';
