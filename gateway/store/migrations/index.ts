/** Every migration, in id order. Add new ones here by hand: nothing registers itself on import. */
import type { Migration } from '../migrate.js';
import { initial } from './0001-initial.js';
import { audit } from './0002-audit.js';
import { reviews } from './0003-reviews.js';
import { auditHeadCheck } from './0004-audit-head-check.js';
import { subjectBindings } from './0005-subject-bindings.js';
import { grantLength } from './0006-grant-length.js';

export const migrations: readonly Migration[] = [initial, audit, reviews, auditHeadCheck, subjectBindings, grantLength];
