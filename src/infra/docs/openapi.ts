import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerDocumentOptions, SwaggerModule } from '@nestjs/swagger';
import type { Express, Request, Response } from 'express';
import swaggerUi from 'swagger-ui-express';
import { API_KEY_SCHEME, RESIDENT_SCHEME } from '../../common/access';
import { ProblemDto } from '../../common/openapi';

/**
 * What the capabilities add to the document beyond their controllers, given by the composition
 * root (infra imports no capability): schemas no endpoint names (the webhooks' data shapes) and
 * top-level extensions (`x-webhooks`).
 */
export interface OpenApiExtras {
  extraModels?: SwaggerDocumentOptions['extraModels'];
  extensions?: Record<`x-${string}`, unknown>;
}

export function buildOpenApiDocument(app: INestApplication, extras: OpenApiExtras = {}): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Civic points ledger')
    .setDescription(
      'The system of record for the city loyalty programme: a double-entry ledger of points earned for taking ' +
        'part in city e-services and spent on partner promo codes, tickets and donations.\n\n' +
        'Amounts of points are decimal strings; errors are RFC 9457 `application/problem+json` with a stable `code`.',
    )
    .setVersion('1')
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API client key (source, partner, auditor, admin)' },
      API_KEY_SCHEME,
    )
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Resident token from the city sign-in' },
      RESIDENT_SCHEME,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ProblemDto, ...(extras.extraModels ?? [])] });
  return { ...document, ...extras.extensions };
}

/** Where a newcomer goes from the service's address. */
export const START_LINKS = [
  { rel: 'app', href: '/app', title: 'Pages for residents, partners (the till) and finance' },
  { rel: 'docs', href: '/docs', title: 'API documentation (Swagger UI)' },
  { rel: 'openapi', href: '/docs/openapi.json', title: 'OpenAPI document' },
  { rel: 'catalogue', href: '/v1/catalogue', title: 'The catalogue of rewards (public)' },
  { rel: 'stats', href: '/v1/public/stats', title: 'Programme statistics (public)' },
  { rel: 'health', href: '/health/ready', title: 'Readiness' },
] as const;

/**
 * GET /: where to go, rather than a 404. JSON for programs; for a browser a plain page of the same
 * links (fixed text, nothing from the request in it).
 */
function startPage(req: Request, res: Response): void {
  const links = Object.fromEntries(START_LINKS.map((l) => [l.rel, l.href]));
  if (req.accepts(['json', 'html']) === 'html') {
    const items = START_LINKS.map((l) => `<li><a href="${l.href}">${l.href}</a>: ${l.title}</li>`).join('');
    res
      .type('html')
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Civic points ledger</title></head><body><h1>Civic points ledger</h1><ul>${items}</ul></body></html>`,
      );
    return;
  }
  res.json({ service: 'civic-points-ledger', links });
}

/** Serves the document at /docs/openapi.json and Swagger UI at /docs. */
export function mountDocs(app: INestApplication, extras: OpenApiExtras = {}): void {
  const document = buildOpenApiDocument(app, extras);
  const express = app.getHttpAdapter().getInstance() as Express;
  express.get('/', startPage);
  express.get('/docs/openapi.json', (_req: Request, res: Response) => {
    res.json(document);
  });
  express.use('/docs', swaggerUi.serve, swaggerUi.setup(document, { customSiteTitle: 'Civic points ledger API' }));
}
