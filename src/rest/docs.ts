import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Response } from "@whatwg-node/fetch";

export const DOCS_PATH = "/v1/docs";

// Swagger UI from the swagger-ui-dist package, served by us: operators' browsers may not reach a CDN.
// Its files are read on the first visit only.
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>IM server REST API</title>
<link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
<link rel="icon" href="${DOCS_PATH}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: "/v1/openapi.json",
  dom_id: "#swagger-ui",
  displayOperationId: true,
  persistAuthorization: true,
});
`;

const loaded = new Map<string, Buffer>();

async function asset(name: string): Promise<Buffer> {
  let bytes = loaded.get(name);
  if (!bytes) {
    const root = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
    bytes = await readFile(join(root, name));
    loaded.set(name, bytes);
  }
  return bytes;
}

/** The page at /v1/docs and its files; undefined for any other path under it. */
export async function serveDocs(path: string): Promise<Response | undefined> {
  if (path === DOCS_PATH || path === `${DOCS_PATH}/`) {
    return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  const name = path.slice(DOCS_PATH.length + 1);
  if (name === "init.js") {
    return new Response(INIT, { headers: { "content-type": "text/javascript; charset=utf-8" } });
  }
  const type = ASSETS[name];
  if (!type) return undefined;
  return new Response(new Uint8Array(await asset(name)), {
    headers: { "content-type": type, "cache-control": "public, max-age=86400" },
  });
}
