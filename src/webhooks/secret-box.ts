import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/config';

const ENCRYPTED = 'enc1:';

/**
 * Signing secrets at rest. Standard Webhooks signs with a symmetric secret, so the service must be
 * able to read it back (a hash would not do): with WEBHOOK_SECRET_KEY it is stored encrypted with
 * AES-256-GCM ('enc1:' iv, tag and ciphertext in base64url), without it as it is, and the service
 * says so when it stores one (not at every start: the CLI's output stays clean). A stored secret of either form is read, so a key can be added later.
 */
@Injectable()
export class SecretBox {
  private readonly key?: Buffer;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.key = config.webhooks.secretKey;
  }

  seal(secret: string): string {
    if (!this.key) {
      new Logger('Webhooks').warn('WEBHOOK_SECRET_KEY is not set: this webhook signing secret is stored unencrypted');
      return secret;
    }
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `${ENCRYPTED}${[iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.')}`;
  }

  open(stored: string): string {
    if (!stored.startsWith(ENCRYPTED)) return stored;
    if (!this.key) throw new Error('a webhook secret is encrypted and WEBHOOK_SECRET_KEY is not set');
    const [iv, tag, body] = stored
      .slice(ENCRYPTED.length)
      .split('.')
      .map((p) => Buffer.from(p, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  }
}
