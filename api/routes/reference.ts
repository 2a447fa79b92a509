/**
 * The api's own reference, without a token: GET /openapi.json (api/openapi/document.ts) and GET /docs, a
 * Swagger UI page whose scripts and styles the api serves itself from the swagger-ui-dist package, so the
 * page works where the api has no way out to a CDN.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import express, { Router } from 'express';
import { openApiDocument } from '../openapi/document.js';

const ASSETS = '/api/v1/docs/assets';

const assetsDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const startScript = `window.ui = SwaggerUIBundle({
  url: '/api/v1/openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  tryItOutEnabled: false,
  defaultModelsExpandDepth: 0,
});`;

/** Only the page's own inline script may run besides the served assets; nothing loads from elsewhere. */
const contentSecurityPolicy = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${createHash('sha256').update(startScript).digest('base64')}'`,
  // Swagger UI sets styles on its elements and draws icons as data: images.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
].join('; ');

const page = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Courier API reference</title>
    <link rel="stylesheet" href="${ASSETS}/swagger-ui.css" />
    <link rel="icon" type="image/png" href="${ASSETS}/favicon-32x32.png" />
  </head>
  <body>
    <div id="reference"></div>
    <script src="${ASSETS}/swagger-ui-bundle.js"></script>
    <script>${startScript}</script>
  </body>
</html>
`;

/** Mounts the document, the page and the page's assets. */
export function referenceRoutes(): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  router.get('/docs', (_req, res) => {
    res.set('Content-Security-Policy', contentSecurityPolicy).type('html').send(page);
  });
  router.use('/docs/assets', express.static(assetsDir, { index: false, fallthrough: true }));
  return router;
}
