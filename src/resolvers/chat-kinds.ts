import type { ChatType } from "../generated/prisma/client.js";

// Two kinds of chat: direct chats copy each event into both users' streams and count unread on
// write; groups and threads write each event once into the chat log and derive their counts.

/** Whether the chat's events go into the chat log (groups and threads). */
export function onChatLog(type: ChatType): boolean {
  return type === "GROUP" || type === "THREAD";
}

/** onChatLog in SQL, for a chat-type column (fixed SQL, never input). */
export const onChatLogSql = (column: string) => `${column} IN ('GROUP', 'THREAD')`;
