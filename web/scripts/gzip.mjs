// Writes NAME.gz beside every text file of the build output (argument 1,
// default dist/), so that `hakgal serve` sends compressed bundles without
// compressing per request. Prints the total sizes.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, constants } from "node:zlib";

const root = process.argv[2] || "dist";
let raw = 0;
let gz = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      walk(p);
    } else if (/\.(js|css|html|svg|json|txt)$/.test(name)) {
      const data = readFileSync(p);
      const out = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
      writeFileSync(p + ".gz", out);
      raw += data.length;
      gz += out.length;
    }
  }
}
walk(root);
console.log(`web: ${raw} bytes, ${gz} bytes gzipped (${root})`);
