import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
} from "graphql";

// Operations generated from the schema itself: a selection set for any field, a plausible value for
// any argument, and hostile variations of every argument position. New fields are covered as they
// are added.

export type Operation = "query" | "mutation";

export interface RootField {
  operation: Operation;
  field: GraphQLField<unknown, unknown>;
}

export function rootFields(schema: GraphQLSchema): RootField[] {
  const of = (operation: Operation) => {
    const type = operation === "query" ? schema.getQueryType() : schema.getMutationType();
    return Object.values(type?.getFields() ?? {}).map((field) => ({ operation, field }));
  };
  return [...of("query"), ...of("mutation")];
}

const takesNoRequiredArgs = (field: GraphQLField<unknown, unknown>) =>
  field.args.every((arg) => !isNonNullType(arg.type) || arg.defaultValue !== undefined);

/** Scalar leaves and, `depth` levels down, object fields that need no arguments. */
export function selection(type: GraphQLOutputType | GraphQLNamedType, depth: number, alias = ""): string {
  const named = getNamedType(type);
  if (isLeafType(named)) return "";
  if (isUnionType(named)) {
    if (depth <= 0) return "{ __typename }";
    // Union members may share a field name with different types: aliased apart.
    const parts = named
      .getTypes()
      .map((member) => `... on ${member.name} ${selection(member, depth - 1, `${member.name}_`)}`);
    return `{ __typename ${parts.join(" ")} }`;
  }
  if (!isObjectType(named) && !isInterfaceType(named)) return "";
  const fields = Object.values(named.getFields()).filter(takesNoRequiredArgs);
  const name = (field: GraphQLField<unknown, unknown>) =>
    alias ? `${alias}${field.name}: ${field.name}` : field.name;
  const leaves = fields.filter((field) => isLeafType(getNamedType(field.type))).map(name);
  const nested =
    depth <= 0
      ? []
      : fields
          .filter((field) => !isLeafType(getNamedType(field.type)))
          .map((field) => `${name(field)} ${selection(field.type, depth - 1)}`);
  return `{ __typename ${[...leaves, ...nested].join(" ")} }`;
}

/** Stand-ins for arguments, chosen by name: someone else's username, someone else's object. */
export interface Plausible {
  username: string;
  id: string;
  messageId: string;
  deviceId: string;
  attachmentId: string;
}

const USERISH = /^(username|user|from|to|owner|usernames|mentions|targets|members)$/i;

function scalarValue(typeName: string, name: string, plausible: Plausible): unknown {
  switch (typeName) {
    case "String":
      if (USERISH.test(name)) return plausible.username;
      if (/url/i.test(name)) return "https://example.com/x";
      if (/^(after|before|since|cursor)$/.test(name)) return undefined;
      return "hello";
    case "ID":
      if (/message|upTo/i.test(name)) return plausible.messageId;
      if (/device/i.test(name)) return plausible.deviceId;
      if (/attachment|file/i.test(name)) return plausible.attachmentId;
      return plausible.id;
    case "Int":
      return 5;
    case "Float":
      return 1.5;
    case "Boolean":
      return true;
    case "DateTime":
      return new Date().toISOString();
    case "JSON":
      return { note: "hello" };
    case "File":
      return "not a file";
    default:
      return "hello";
  }
}

/** A value of `type` that a careful client could send; oneOf inputs take their first field. */
export function plausibleValue(
  type: GraphQLInputType,
  name: string,
  plausible: Plausible,
  depth = 0,
): unknown {
  if (isNonNullType(type)) return plausibleValue(type.ofType, name, plausible, depth);
  if (isListType(type)) {
    const item = plausibleValue(type.ofType, name, plausible, depth);
    return item === undefined ? [] : [item];
  }
  if (isEnumType(type)) return type.getValues()[0]!.value;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    if (type.isOneOf) {
      const first = fields[0]!;
      return { [first.name]: plausibleValue(first.type, first.name, plausible, depth + 1) };
    }
    const value: Record<string, unknown> = {};
    for (const field of fields) {
      if (isNonNullType(field.type) && field.defaultValue === undefined) {
        value[field.name] = plausibleValue(field.type, field.name, plausible, depth + 1);
      }
    }
    return value;
  }
  return scalarValue(type.name, name, plausible);
}

/** A path to one argument position: the argument, then input-object fields. */
export interface Position {
  path: string[];
  type: GraphQLInputType;
  /** The input objects on the way, to rebuild a oneOf parent around the changed field. */
  parents: GraphQLInputType[];
}

/** Every position in the arguments, input objects followed `maxDepth` levels down. */
export function positions(args: readonly GraphQLArgument[], maxDepth = 2): Position[] {
  const found: Position[] = [];
  const walk = (type: GraphQLInputType, path: string[], parents: GraphQLInputType[]) => {
    found.push({ path, type, parents });
    const named = getNamedType(type);
    if (!isInputObjectType(named) || path.length > maxDepth) return;
    for (const field of Object.values(named.getFields())) {
      walk(field.type, [...path, field.name], [...parents, named]);
    }
  };
  for (const arg of args) walk(arg.type, [arg.name], []);
  return found;
}

/** The plausible arguments with the value at `position` replaced (a oneOf parent keeps that field alone). */
export function withValueAt(
  args: readonly GraphQLArgument[],
  plausible: Plausible,
  position: Position,
  value: unknown,
): Record<string, unknown> {
  const variables = Object.fromEntries(
    args.map((arg) => [arg.name, plausibleValue(arg.type, arg.name, plausible)]),
  );
  const [argName, ...rest] = position.path;
  if (rest.length === 0) {
    variables[argName!] = value;
    return variables;
  }
  let parent = variables[argName!];
  if (Array.isArray(parent)) parent = parent[0] ?? {};
  let container = { ...(parent as Record<string, unknown>) };
  variables[argName!] = isListType(unwrapNonNull(args.find((arg) => arg.name === argName)!.type))
    ? [container]
    : container;
  rest.forEach((key, index) => {
    const parentType = position.parents[index]!;
    if (isInputObjectType(parentType) && parentType.isOneOf) {
      for (const other of Object.keys(container)) delete container[other];
    }
    if (index === rest.length - 1) {
      container[key] = value;
      return;
    }
    const fieldType = isInputObjectType(parentType) ? parentType.getFields()[key]!.type : undefined;
    const next = { ...(plausibleValue(getNamedType(fieldType!), key, plausible) as Record<string, unknown>) };
    container[key] = isListType(unwrapNonNull(fieldType!)) ? [next] : next;
    container = next;
  });
  return variables;
}

function unwrapNonNull(type: GraphQLInputType): GraphQLInputType {
  return isNonNullType(type) ? type.ofType : type;
}

/** The document calling `field` with every argument as a variable of its declared type. */
export function document(operation: Operation, field: GraphQLField<unknown, unknown>, depth = 2): string {
  const declared = field.args.map((arg) => `$${arg.name}: ${arg.type}`).join(", ");
  const passed = field.args.map((arg) => `${arg.name}: $${arg.name}`).join(", ");
  return `${operation}${declared ? `(${declared})` : ""} { ${field.name}${passed ? `(${passed})` : ""} ${selection(field.type, depth)} }`;
}

/** The document calling `field` with argument literals as written (not variables): for invalid documents. */
export function literalDocument(
  operation: Operation,
  field: GraphQLField<unknown, unknown>,
  literals: Record<string, string>,
): string {
  const passed = Object.entries(literals)
    .map(([name, literal]) => `${name}: ${literal}`)
    .join(", ");
  return `${operation} { ${field.name}${passed ? `(${passed})` : ""} ${selection(field.type, 1)} }`;
}
