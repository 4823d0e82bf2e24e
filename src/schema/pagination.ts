import { type NodePage, timeCursor } from "../resolvers/paging.js";
import { builder } from "./builder.js";

/** One page of a list, as resolvers return it. */
export interface Page<Node> {
  nodes: Node[];
  cursorOf: (node: Node) => string;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

interface PageInfoShape {
  hasNextPage: boolean;
  endCursor: string | null;
  hasPreviousPage: boolean;
  startCursor: string | null;
}

const PageInfoRef = builder.objectRef<PageInfoShape>("PageInfo").implement({
  description: "Where a page sits: pass endCursor as after (or startCursor as before) for the next one.",
  fields: (t) => ({
    hasNextPage: t.exposeBoolean("hasNextPage"),
    endCursor: t.exposeString("endCursor", { nullable: true }),
    hasPreviousPage: t.exposeBoolean("hasPreviousPage"),
    startCursor: t.exposeString("startCursor", { nullable: true }),
  }),
});

type NodeRef<Node> = ReturnType<typeof builder.objectRef<Node>>;

/** `<Name>Connection { edges { cursor node } pageInfo }` and its edge type. */
export function connectionType<Node>(name: string, nodeRef: NodeRef<Node>) {
  const EdgeRef = builder.objectRef<{ cursor: string; node: Node }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString("cursor"),
      node: t.field({ type: nodeRef, resolve: (edge) => edge.node as never }),
    }),
  });
  return builder.objectRef<Page<Node>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({
        type: [EdgeRef],
        resolve: (page) => page.nodes.map((node) => ({ cursor: page.cursorOf(node), node })),
      }),
      pageInfo: t.field({
        type: PageInfoRef,
        resolve: (page) => ({
          hasNextPage: page.hasNextPage,
          hasPreviousPage: page.hasPreviousPage,
          startCursor: page.nodes.length > 0 ? page.cursorOf(page.nodes[0]!) : null,
          endCursor: page.nodes.length > 0 ? page.cursorOf(page.nodes.at(-1)!) : null,
        }),
      }),
    }),
  });
}

/** A resolver's page as a connection whose cursor is the (time, id) key it is sorted by; `node` picks what it lists. */
export const byTime = <Row, Node = Row>(
  page: NodePage<Row>,
  after: unknown,
  key: (row: Row) => [Date, string],
  node: (row: Row) => Node = (row) => row as unknown as Node,
): Page<Node> => {
  const cursors = new Map(page.nodes.map((row) => [node(row), timeCursor(...key(row))]));
  return {
    nodes: [...cursors.keys()],
    cursorOf: (item: Node) => cursors.get(item)!,
    hasNextPage: page.hasNextPage,
    hasPreviousPage: after != null,
  };
};
