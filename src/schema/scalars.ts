import { Kind, type ValueNode } from "graphql";
import { badInput } from "../errors.js";
import { MAX_JSON_DEPTH, storableJson } from "../resolvers/validation.js";
import { builder } from "./builder.js";

/** PostgreSQL's timestamps and ISO-8601's four-digit years; JavaScript dates reach year 275760. */
function storableDate(date: Date, raw: unknown): Date {
  const year = date.getUTCFullYear();
  if (Number.isNaN(date.getTime())) throw badInput(`Not an ISO-8601 date-time: ${JSON.stringify(raw)}`);
  if (year < 1 || year > 9999)
    throw badInput(`A DateTime's year must be from 1 to 9999: ${JSON.stringify(raw)}`);
  return date;
}

function parseDateTime(value: unknown): Date {
  return storableDate(typeof value === "string" ? new Date(value) : new Date(Number.NaN), value);
}

builder.scalarType("DateTime", {
  description: "An ISO-8601 instant, always sent in UTC (2026-01-31T12:00:00.000Z).",
  // REST (sofa-api) passes query-string values through serialize: a string is checked, not assumed a Date.
  serialize: (value) => (value instanceof Date ? value : parseDateTime(value)).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw badInput("A DateTime is written as an ISO-8601 string");
    return storableDate(new Date(ast.value), ast.value);
  },
});

function literalValue(
  ast: ValueNode,
  variables: Record<string, unknown> | null | undefined,
  depth = 1,
): unknown {
  if (depth > MAX_JSON_DEPTH) throw badInput(`JSON may nest at most ${MAX_JSON_DEPTH} levels deep`);
  switch (ast.kind) {
    case Kind.STRING:
      return storableJson(ast.value);
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((value) => literalValue(value, variables, depth + 1));
    case Kind.OBJECT:
      return storableJson(
        Object.fromEntries(
          ast.fields.map((field) => [field.name.value, literalValue(field.value, variables, depth + 1)]),
        ),
      );
    case Kind.VARIABLE:
      return storableJson(variables?.[ast.name.value]);
  }
}

builder.scalarType("JSON", {
  description: "Any JSON value. Fields that take attributes require an object and cap its serialized size.",
  serialize: (value) => value,
  parseValue: (value) => storableJson(value),
  parseLiteral: (ast, variables) => literalValue(ast, variables),
});
