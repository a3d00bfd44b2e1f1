-- Events keep a snapshot of their task (SPEC §2.3 `data.task`), and every lease renewal, message
-- and status change of a task with a large payload used to copy that payload once more. A payload
-- over 1 KiB now lives once per task in event_payloads; the event's snapshot leaves it out and
-- points at it (payload_ref), and reading an event puts it back. The triggers do it for every
-- writer of events (the statements of queries.sql, fast paths and bulk paths alike).
--
-- Two server processes may write at once: one reusing a payload row while retention deletes the
-- last older event pointing at it. The foreign key settles it: reuse takes FOR KEY SHARE on the
-- row, and the delete, which would violate the key, is skipped. The same payload written by two
-- paths may be spelled differently (row_to_json keeps the stored text, the store's encoder is
-- compact), so a task may hold two equal payloads; never one per event.
-- Events written before this migration keep their inline copy until retention trims them.

CREATE TABLE event_payloads (
    id       bigserial PRIMARY KEY,
    task_id  bigint NOT NULL,
    body     json NOT NULL  -- verbatim, as the snapshot carried it
);
CREATE INDEX event_payloads_task ON event_payloads (task_id);

ALTER TABLE events ADD COLUMN payload_ref bigint REFERENCES event_payloads (id);
CREATE INDEX events_payload_ref ON events (payload_ref) WHERE payload_ref IS NOT NULL;

CREATE FUNCTION events_payload_apart() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_body json := NEW.task -> 'payload';
    v_ref  bigint;
BEGIN
    IF v_body IS NULL OR octet_length(v_body::text) <= 1024 THEN
        RETURN NEW;
    END IF;
    SELECT p.id INTO v_ref FROM event_payloads p
     WHERE p.task_id = NEW.task_id AND p.body::text = v_body::text
     ORDER BY p.id DESC LIMIT 1
       FOR KEY SHARE;
    IF v_ref IS NULL THEN
        INSERT INTO event_payloads (task_id, body) VALUES (NEW.task_id, v_body)
        RETURNING id INTO v_ref;
    END IF;
    NEW.payload_ref := v_ref;
    -- json_each keeps every other value's text as it was (jsonb would reorder keys)
    NEW.task := (SELECT json_object_agg(e.key, e.value) FROM json_each(NEW.task) AS e
                  WHERE e.key <> 'payload');
    RETURN NEW;
END $$;

-- octet_length of the whole snapshot first: cheap, and almost every snapshot is small.
CREATE TRIGGER events_payload_apart BEFORE INSERT ON events FOR EACH ROW
    WHEN (octet_length(NEW.task::text) > 1024) EXECUTE FUNCTION events_payload_apart();

CREATE FUNCTION events_payload_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM event_payloads p
     WHERE p.id = OLD.payload_ref
       AND NOT EXISTS (SELECT 1 FROM events e WHERE e.payload_ref = OLD.payload_ref);
    RETURN NULL;
EXCEPTION WHEN foreign_key_violation THEN
    RETURN NULL;  -- an event committed meanwhile points at it: it stays
END $$;

CREATE TRIGGER events_payload_gone AFTER DELETE ON events FOR EACH ROW
    WHEN (OLD.payload_ref IS NOT NULL) EXECUTE FUNCTION events_payload_gone();
