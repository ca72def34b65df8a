import { Injectable } from '@nestjs/common';
import { PageAudience, PageUser } from './sessions/session';

export interface DemoSignIn {
  /** a slug for the sign-in's URL */
  id: string;
  label: string;
  role: PageAudience;
  user: PageUser;
}

/**
 * One-click sign-ins of the demo: empty unless the demo registers its residents and keys' holders,
 * so that outside demo mode they do not exist (their URL answers 404).
 */
@Injectable()
export class DemoSignIns {
  private entries: DemoSignIn[] = [];

  register(entries: DemoSignIn[]): void {
    this.entries = entries;
  }

  list(): readonly DemoSignIn[] {
    return this.entries;
  }

  find(id: string): DemoSignIn | undefined {
    return this.entries.find((e) => e.id === id);
  }
}
