import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { Express, Request, Response } from 'express';
import swaggerUi from 'swagger-ui-express';
import { API_KEY_SCHEME, RESIDENT_SCHEME } from '../../auth/access.decorators';
import { ProblemDto } from '../../common/openapi';
import { WEBHOOK_DATA_MODELS, webhooksSection } from '../../webhooks/dto/webhook-events.dto';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Civic points ledger')
    .setDescription(
      'The system of record for the city loyalty programme: a double-entry ledger of points earned for taking ' +
        'part in city e-services and spent on partner promo codes, tickets and donations.\n\n' +
        'Amounts of points are decimal strings; errors are RFC 9457 `application/problem+json` with a stable `code`.',
    )
    .setVersion('1')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'API client key (source, partner, auditor, admin)' }, API_KEY_SCHEME)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Resident token from the city sign-in' }, RESIDENT_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ProblemDto, ...WEBHOOK_DATA_MODELS] });
  return { ...document, 'x-webhooks': webhooksSection() } as OpenAPIObject;
}

/** Serves the document at /docs/openapi.json and Swagger UI at /docs. */
export function mountDocs(app: INestApplication): void {
  const document = buildOpenApiDocument(app);
  const express = app.getHttpAdapter().getInstance() as Express;
  express.get('/docs/openapi.json', (_req: Request, res: Response) => {
    res.json(document);
  });
  express.use('/docs', swaggerUi.serve, swaggerUi.setup(document, { customSiteTitle: 'Civic points ledger API' }));
}
