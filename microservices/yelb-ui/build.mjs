// Bundles the page into dist/ (or $YELB_UI_OUT): one fingerprinted script
// with Chart.js inside, one stylesheet, and index.html pointing at both, so
// nothing is fetched from a CDN at run time.
import { build } from 'esbuild';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const out = path.resolve(process.env.YELB_UI_OUT || 'dist');
await rm(out, { recursive: true, force: true });
await mkdir(path.join(out, 'assets'), { recursive: true });

const result = await build({
  entryPoints: ['src/main.js', 'src/style.css'],
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ['es2020'],
  format: 'esm',
  outdir: path.join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'linked',
});

const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
const script = outputs.find((f) => f.startsWith('main-') && f.endsWith('.js'));
const style = outputs.find((f) => f.startsWith('style-') && f.endsWith('.css'));
if (!script || !style) {
  throw new Error(`build produced ${outputs.join(', ')}; expected main-*.js and style-*.css`);
}
const html = (await readFile('src/index.html', 'utf8'))
  // Absolute URLs, so a deep link such as /results/today still loads the
  // bundle (nginx answers every unknown path with index.html).
  .replace('__SCRIPT__', `/assets/${script}`)
  .replace('__STYLE__', `/assets/${style}`);
await writeFile(path.join(out, 'index.html'), html);

for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  console.log(`${path.relative(process.cwd(), file)}\t${meta.bytes} bytes`);
}
