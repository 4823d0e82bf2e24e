import { useDisableIntrospection } from "@graphql-yoga/plugin-disable-introspection";
import { NoSchemaIntrospectionCustomRule } from "graphql";
import type { Plugin } from "graphql-yoga";

/**
 * INTROSPECTION=false: yoga's plugin refuses `__schema` and `__type` in HTTP requests; graphql-ws
 * operations, which have no HTTP request for it to mark, get the same validation rule here.
 */
export function useIntrospectionSwitch(enabled: boolean): Plugin[] {
  if (enabled) return [];
  const overWebSocket: Plugin = {
    onValidate: ({ addValidationRule, context }) => {
      if (!(context as { request?: unknown }).request) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
  return [useDisableIntrospection(), overWebSocket];
}
