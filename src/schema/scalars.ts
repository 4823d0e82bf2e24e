import { Kind, type ValueNode } from "graphql";
import { badInput } from "../errors.js";
import { builder } from "./builder.js";

function parseDateTime(value: unknown): Date {
  const date = typeof value === "string" ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw badInput(`Not an ISO-8601 date-time: ${JSON.stringify(value)}`);
  return date;
}

builder.scalarType("DateTime", {
  description: "An ISO-8601 instant, always sent in UTC (2026-01-31T12:00:00.000Z).",
  // REST (sofa-api) passes query-string values through serialize: a string is checked, not assumed a Date.
  serialize: (value) => (value instanceof Date ? value : parseDateTime(value)).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw badInput("A DateTime is written as an ISO-8601 string");
    const date = new Date(ast.value);
    if (Number.isNaN(date.getTime())) throw badInput(`Not an ISO-8601 date-time: "${ast.value}"`);
    return date;
  },
});

function literalValue(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
    case Kind.ENUM:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((value) => literalValue(value, variables));
    case Kind.OBJECT:
      return Object.fromEntries(
        ast.fields.map((field) => [field.name.value, literalValue(field.value, variables)]),
      );
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
  }
}

builder.scalarType("JSON", {
  description: "Any JSON value. Fields that take attributes require an object and cap its serialized size.",
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => literalValue(ast, variables),
});
