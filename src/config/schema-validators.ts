/**
 * The compiled validators check-schema.ts runs, and how they are compiled: one list, one set of
 * ajv options. Compiling them costs ~60 ms and importing ajv ~40 ms of every command's start, so
 * the build (scripts/build-validators.mjs) compiles them once with ajv's standalone code
 * generation and writes the result over this module's compiled output: the installed pairctl
 * neither imports nor runs ajv. Run from source (tests, tsx), this module compiles them itself.
 * schema.ts stays the one description of the file; this only decides how it is turned into code.
 */
import Ajv2020 from 'ajv/dist/2020.js';
import type { Options, ValidateFunction } from 'ajv';
import { looksLikeDateTime } from './date-time.js';
import type { RawGuest, RawHost, RawPairConfig, RawRelay } from './schema.js';
import { pairSchema } from './schema.js';

type RawSession = NonNullable<RawPairConfig['session']>;

/** One validator per part of the file check-schema validates on its own. */
export interface Validators {
  file: ValidateFunction<RawPairConfig>;
  host: ValidateFunction<RawHost>;
  guest: ValidateFunction<RawGuest>;
  relay: ValidateFunction<RawRelay>;
  session: ValidateFunction<RawSession>;
}

/** The schema (or sub-schema) each validator checks. */
export function validatorSchemas(): Record<keyof Validators, object> {
  const { hosts, guests, relays, session } = pairSchema.properties;
  return {
    file: pairSchema,
    host: hosts.additionalProperties,
    guest: guests.additionalProperties,
    relay: relays.additionalProperties,
    session,
  };
}

/** An ajv set up for pair.yaml; `code` is added by the build for standalone code generation. */
export function validatorAjv(code?: Options['code']): InstanceType<typeof Ajv2020.default> {
  // The module is CommonJS; under NodeNext its default import is module.exports, whose
  // `default` is the class.
  // strictRequired is off because the schema says "keys or github" and "vps needs relay and
  // port" with `required` inside anyOf/then, where the properties are declared one level up.
  const ajv = new Ajv2020.default({ allErrors: true, verbose: true, strict: true, strictRequired: false, ...(code ? { code } : {}) });
  // Syntax only: the calendar check (no 2026-02-30) is the expires rule's, with its own message.
  ajv.addFormat('date-time', { type: 'string', validate: looksLikeDateTime });
  return ajv;
}

/** The validators, compiled now (the build replaces this function with precompiled code). */
export function schemaValidators(): Validators {
  const ajv = validatorAjv();
  const schemas = validatorSchemas();
  return {
    file: ajv.compile<RawPairConfig>(schemas.file),
    host: ajv.compile<RawHost>(schemas.host),
    guest: ajv.compile<RawGuest>(schemas.guest),
    relay: ajv.compile<RawRelay>(schemas.relay),
    session: ajv.compile<RawSession>(schemas.session),
  };
}
