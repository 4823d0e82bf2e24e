-- CreateIndex
CREATE INDEX "OutboxEntry_consumer_nextAttemptAt_idx" ON "OutboxEntry"("consumer", "nextAttemptAt");
