-- Message search (resolvers/search.ts): a GIN index of each message's chat and of the characters and
-- pairs of adjacent characters of its searchText, folded (NFKC, so full-width and half-width forms
-- are one, then lower case). Pairs find Chinese, which has no spaces to split words at, and any
-- substring of two or more characters; single characters find one-character queries. A candidate is
-- then checked against the query as a substring. Plain PostgreSQL: no extension, the same in PGlite.
-- The functions call built-ins only, so that the index rebuilds whatever the search_path (a restore).
CREATE FUNCTION message_search_grams(t text) RETURNS text[]
  LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  grams text[] := '{}';
  previous text := ' ';
  c text;
BEGIN
  FOREACH c IN ARRAY string_to_array(lower(normalize(t, NFKC)), NULL) LOOP
    -- Blanks and control characters are never part of a gram: a query is trimmed, and has none inside.
    IF ascii(c) > 32 THEN
      grams := grams || c;
      IF ascii(previous) > 32 THEN
        grams := grams || (previous || c);
      END IF;
    END IF;
    previous := c;
  END LOOP;
  RETURN grams;
END
$$;

-- What a query's matches all have: its pairs; a single character, or characters with blanks between
-- them, have no pair, so their characters.
CREATE FUNCTION message_search_keys(q text) RETURNS text[]
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN coalesce(
    nullif(ARRAY(SELECT g FROM unnest(message_search_grams(q)) g WHERE char_length(g) = 2), '{}'),
    message_search_grams(q)
  );

-- A send adds its message to the index's pending list, and the send that fills the list merges it
-- into the index: 256 kB rather than the default 4 MB keeps that send's wait short (the longest of
-- 20,000 single inserts: 190 ms against 570 ms), at about the same cost a message.
CREATE INDEX "Message_search_idx" ON "Message" USING gin ((ARRAY["chatId"]), message_search_grams("searchText"))
  WITH (gin_pending_list_limit = 256);
