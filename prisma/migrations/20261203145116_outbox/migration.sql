-- CreateEnum
CREATE TYPE "OutboxEvent" AS ENUM ('CREATED', 'EDITED', 'RECALLED');

-- CreateTable
CREATE TABLE "OutboxConsumer" (
    "name" TEXT NOT NULL,
    "chatTypes" "ChatType"[],
    "events" "OutboxEvent"[],
    "pumpedBy" TEXT,
    "pumpedUntil" TIMESTAMP(3),

    CONSTRAINT "OutboxConsumer_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "OutboxEntry" (
    "id" BIGSERIAL NOT NULL,
    "consumer" TEXT NOT NULL,
    "chatId" UUID NOT NULL,
    "messageId" BIGINT NOT NULL,
    "event" "OutboxEvent" NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OutboxEntry_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "OutboxEntry_consumer_id_idx" ON "OutboxEntry"("consumer", "id");

-- CreateIndex
CREATE INDEX "OutboxEntry_consumer_chatId_id_idx" ON "OutboxEntry"("consumer", "chatId", "id");

-- Queues each stored, edited or recalled message for every consumer that wants it, inside the
-- writing transaction. A writer that must not call back (history import) sets
-- imserver.skip_callbacks for its transaction.
CREATE FUNCTION "outbox_messages_stored"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('imserver.skip_callbacks', true) = 'on' THEN RETURN NULL; END IF;
  INSERT INTO "OutboxEntry" ("consumer", "chatId", "messageId", "event")
  SELECT c."name", m."chatId", m."id", 'CREATED'
  FROM stored m JOIN "OutboxConsumer" c
    ON m."chatType" = ANY (c."chatTypes") AND 'CREATED' = ANY (c."events")
  ORDER BY c."name", m."id";
  RETURN NULL;
END $$;

CREATE TRIGGER "outbox_messages_stored" AFTER INSERT ON "Message"
  REFERENCING NEW TABLE AS stored FOR EACH STATEMENT EXECUTE FUNCTION "outbox_messages_stored"();

CREATE FUNCTION "outbox_message_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  happened "OutboxEvent" := CASE WHEN NEW."recalledAt" IS NOT NULL THEN 'RECALLED' ELSE 'EDITED' END;
BEGIN
  IF current_setting('imserver.skip_callbacks', true) = 'on' THEN RETURN NULL; END IF;
  INSERT INTO "OutboxEntry" ("consumer", "chatId", "messageId", "event")
  SELECT c."name", NEW."chatId", NEW."id", happened
  FROM "OutboxConsumer" c WHERE NEW."chatType" = ANY (c."chatTypes") AND happened = ANY (c."events");
  RETURN NULL;
END $$;

-- Row by row, because a trigger with transition tables cannot name columns; the WHEN clause keeps
-- receipts (deliveredAt, readAt) from calling the function at all.
CREATE TRIGGER "outbox_message_changed" AFTER UPDATE OF "recalledAt", "editedAt" ON "Message"
  FOR EACH ROW
  WHEN (OLD."recalledAt" IS DISTINCT FROM NEW."recalledAt" OR OLD."editedAt" IS DISTINCT FROM NEW."editedAt")
  EXECUTE FUNCTION "outbox_message_changed"();
