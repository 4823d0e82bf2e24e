import { type GraphQLSchema, isObjectType } from "graphql";
import { ERROR_SCHEMA, HTTP_STATUS } from "./errors.js";
import { MUTATION_ROUTES, QUERY_ROUTES, type RestRoute } from "./routes.js";

// biome-ignore lint/suspicious/noExplicitAny: sofa hands over the OpenAPI document as untyped JSON
type Json = Record<string, any>;

const STATUS_TEXT: Record<number, string> = {
  400: "Bad input (BAD_USER_INPUT)",
  401: "No or bad token (UNAUTHENTICATED)",
  403: "Not allowed (FORBIDDEN, BLOCKED, MUTED, NOT_MEMBER, USER_BANNED, CONTENT_REJECTED)",
  404: "No such thing (NOT_FOUND)",
  409: "Conflicts with the current state (CONFLICT, RECALL_WINDOW_EXPIRED)",
  413: "Over a limit (LIMIT_EXCEEDED)",
  429: "Too many requests (RATE_LIMITED): see retryAfterSeconds and Retry-After",
  500: "Server error (INTERNAL)",
};

const oasPath = (path: string) => path.replace(/:([A-Za-z_]\w*)/g, "{$1}");

/**
 * Completes sofa's document: each operation named after its GraphQL field (operationId) and
 * described by it, bearer auth, the error body, and input objects in query strings as deepObject
 * (conversation[user]=bob), which is how the server reads them.
 */
export function describeApi(document: Json, schema: GraphQLSchema): void {
  const statuses = [...new Set(Object.values(HTTP_STATUS))].sort();
  document.components ??= {};
  document.components.schemas.ApiError = ERROR_SCHEMA;
  document.components.securitySchemes = {
    bearerAuth: {
      type: "http",
      scheme: "bearer",
      description: "A user's token (login, register, POST /admin/users/{username}/token) or an admin token",
    },
  };
  document.components.responses = Object.fromEntries(
    statuses.map((status) => [
      `Error${status}`,
      {
        description: STATUS_TEXT[status],
        content: { "application/json": { schema: { $ref: "#/components/schemas/ApiError" } } },
      },
    ]),
  );
  // Optional: register, login and adminToken need none.
  document.security = [{ bearerAuth: [] }, {}];

  const describe = (routes: Record<string, RestRoute>, type: "Query" | "Mutation") => {
    const fields = (type === "Query" ? schema.getQueryType() : schema.getMutationType())!.getFields();
    for (const [field, route] of Object.entries(routes)) {
      const operation = document.paths?.[oasPath(route.path)]?.[route.method.toLowerCase()];
      if (!operation) throw new Error(`sofa made no ${route.method} ${route.path} for ${type}.${field}`);
      operation.operationId = field;
      operation.summary = `${type === "Query" ? "query" : "mutation"} ${field}`;
      operation.description = fields[field]?.description ?? "";
      hideNestedArguments(operation, field);
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === "query" && parameter.schema?.$ref) {
          parameter.style = "deepObject";
          parameter.explode = true;
        }
        if (!parameter.description) delete parameter.description;
      }
      for (const status of statuses) {
        operation.responses[status] = { $ref: `#/components/responses/Error${status}` };
      }
    }
  };
  describe(QUERY_ROUTES, "Query");
  describe(MUTATION_ROUTES, "Mutation");
  for (const [name, component] of Object.entries<Json>(document.components.schemas)) {
    if (isObjectType(schema.getType(name))) describeOutput(component);
  }
}

/**
 * sofa turns the arguments of fields deep in the selection (a message's `readBy(first)`) into
 * variables named by their path (`sendMessage_readBy_first`); their defaults serve, so the
 * document leaves the optional ones out rather than offer a dozen such parameters.
 */
function hideNestedArguments(operation: Json, field: string): void {
  const nested = (name: string) => name.startsWith(`${field}_`);
  if (operation.parameters) {
    operation.parameters = operation.parameters.filter(
      (parameter: Json) => parameter.required || !nested(parameter.name),
    );
  }
  const body = operation.requestBody?.content?.["application/json"]?.schema;
  for (const name of Object.keys(body?.properties ?? {})) {
    if (nested(name) && !body.required?.includes(name)) delete body.properties[name];
  }
}

const isScalar = (property: Json): boolean =>
  property.type === "array" ? isScalar(property.items) : !property.$ref && !property.oneOf;

/**
 * What an answer really holds: a nullable GraphQL field may be null (sofa leaves nullable out), and
 * only scalar fields are sure to be there, since sofa's selection stops where a type would repeat.
 */
function describeOutput(component: Json): void {
  const nonNull = new Set<string>(component.required ?? []);
  for (const [field, property] of Object.entries<Json>(component.properties ?? {})) {
    if (nonNull.has(field)) continue;
    if (property.$ref) {
      const { $ref, ...rest } = property;
      component.properties[field] = { ...rest, nullable: true, allOf: [{ $ref }] };
    } else property.nullable = true;
  }
  const required = [...nonNull].filter((field) => isScalar(component.properties[field]));
  if (required.length > 0) component.required = required;
  else delete component.required;
}
