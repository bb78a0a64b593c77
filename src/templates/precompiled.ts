/**
 * The templates as handlebars template specs: the JavaScript handlebars compiles a template to.
 * The build (scripts/copy-templates.mjs) replaces this module's output with the specs of the
 * same .hbs files precompiled there, so the installed pairctl carries only handlebars' runtime
 * and compiles no template while it plans (~80 ms of a plan's CPU). Run from source (tests, tsx),
 * this module precompiles a template on first use with the same call and options, so both ways
 * run the same spec.
 */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';

/** How every template is compiled: output verbatim (config files, not HTML), unknown names fail. */
export const TEMPLATE_OPTIONS = { noEscape: true, strict: true } as const;

/** The spec of template `name` (file `name`.hbs beside this module). */
export function templateSpec(name: string): TemplateSpecification {
  const source = readFileSync(new URL(`./${name}.hbs`, import.meta.url), 'utf8');
  // precompile's output is the text of a JavaScript object, written as code into the build's
  // module. It adds its defaults to the options object it is given: each call gets a copy.
  return new Function(`return ${Handlebars.precompile(source, { ...TEMPLATE_OPTIONS })};`)() as TemplateSpecification;
}
