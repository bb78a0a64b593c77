// Copies the handlebars templates next to the compiled code, where render.ts looks for them.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
mkdirSync('dist/templates', { recursive: true });
for (const f of readdirSync('src/templates')) if (f.endsWith('.hbs')) cpSync(`src/templates/${f}`, `dist/templates/${f}`);
