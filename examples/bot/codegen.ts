// graphql-codegen's configuration for the example bot: typed documents from the committed
// schema.graphql (never a running server) and the bot's operations, in one generated file.
// Paths are from the repository root, where `npm run codegen` runs it.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["examples/bot/operations.graphql"],
  generates: {
    "examples/bot/generated/graphql.ts": {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        // Documents as typed strings: graphql-ws and fetch send strings, so no graphql-js at run time.
        documentMode: "string",
        useTypeImports: true,
        enumsAsTypes: true,
        strictScalars: true,
        scalars: { DateTime: "string", JSON: "unknown", File: "File" },
      },
    },
  },
};

export default config;
