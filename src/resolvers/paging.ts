import { badInput } from "../errors.js";

export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;

export function pageSize(requested: number | null | undefined, field: string): number {
  if (requested == null) return DEFAULT_PAGE;
  if (!Number.isInteger(requested) || requested < 1 || requested > MAX_PAGE) {
    throw badInput(`${field} must be from 1 to ${MAX_PAGE}`, field);
  }
  return requested;
}
