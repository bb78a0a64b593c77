/**
 * SARIF 2.1.0, the format code-scanning services (GitHub code scanning, Azure DevOps, IDEs)
 * import: one run of the tool "pairctl" with every rule id it can report, and one result per
 * diagnostic located in the file by line and column (UTF-16 code units, which is what the YAML
 * positions count).
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LintReport } from './lint-report.js';
import { RULE_IDS, RULES } from './rule-catalog.js';

export const SARIF_SCHEMA_URI = 'https://json.schemastore.org/sarif-2.1.0.json';

/** A file name as a SARIF URI reference: relative to the checkout when it was given relative. */
function artifactLocation(file: string): { uri: string; uriBaseId?: string } {
  if (isAbsolute(file)) return { uri: pathToFileURL(file).href };
  const uri = file
    .replace(/\\/g, '/')
    .split('/')
    .filter((seg) => seg !== '.')
    .map((seg) => encodeURIComponent(seg))
    .join('/');
  return { uri, uriBaseId: '%SRCROOT%' };
}

/** Renders the report as one SARIF log. */
export function renderSarif(report: LintReport, tool: { version: string }): string {
  const index = new Map(RULE_IDS.map((id, i) => [id, i]));
  const log = {
    $schema: SARIF_SCHEMA_URI,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'pairctl',
            version: tool.version,
            rules: RULE_IDS.map((id) => ({
              id,
              shortDescription: { text: RULES[id].summary },
              help: { text: `${RULES[id].summary} Bad and good examples: docs/rules.md#${id} in pairctl.` },
              defaultConfiguration: { level: RULES[id].severity },
            })),
          },
        },
        columnKind: 'utf16CodeUnits',
        results: report.files.flatMap((f) =>
          f.diagnostics.map((d) => ({
            ruleId: d.rule,
            ruleIndex: index.get(d.rule) ?? 0,
            level: d.severity,
            message: { text: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message },
            locations: [
              {
                physicalLocation: {
                  artifactLocation: artifactLocation(f.file),
                  region: { startLine: d.line, startColumn: d.column },
                },
              },
            ],
          })),
        ),
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
