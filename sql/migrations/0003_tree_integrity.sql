-- Arbiter schema, version 3: tree integrity without per-row foreign-key triggers on the hot path.
-- The schema placeholder is replaced by the validated schema name before this file runs.
--
-- The parent/child foreign key of a job table, and the child results' foreign key with ON DELETE CASCADE,
-- ran two trigger queries for every deleted job, standalone or not: about 70% of the cost of a bulk ack,
-- although only jobs in trees ever need them. They are replaced by triggers that cost a standalone job
-- nothing per row:
--   * <q>_tree_parent, AFTER INSERT or UPDATE OF parent_id, only for rows that name a parent: the parent
--     must exist, and it is locked FOR KEY SHARE exactly like the foreign key does, so it cannot be
--     deleted before this transaction ends (a parent deleted first makes this fail with 23503). Like the
--     foreign key's check it runs once the statement's rows are in, so a statement may insert a parent
--     and its children together;
--   * <q>_results_parent, the same rule for stored child results;
--   * <q>_tree_del, once per DELETE statement, over the statement's deleted rows (a transition table):
--     no deleted job may still have children (23503, like the foreign key, checked when the statement
--     ends so a statement may delete a whole subtree), and the deleted parents' child results go with them.
-- The errors keep the foreign key's SQLSTATE and constraint names, so callers see no difference.

CREATE FUNCTION "{{schema}}"._create_tree_triggers(q text) RETURNS void
LANGUAGE plpgsql AS $create$
DECLARE
  s constant text := '{{schema}}';
  r text := q || '_results';
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  EXECUTE format('ALTER TABLE %I.%I DROP CONSTRAINT IF EXISTS %I', s, q, q || '_parent_id_fkey');
  EXECUTE format('ALTER TABLE %I.%I DROP CONSTRAINT IF EXISTS %I', s, r, r || '_parent_id_fkey');

  -- A job that names a parent: the parent exists and stays until we commit.
  EXECUTE format($ddl$
    CREATE OR REPLACE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM 1 FROM %1$I.%3$I p WHERE p.id = NEW.parent_id FOR KEY SHARE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "%%" violates foreign key constraint "%%"', %3$L, %4$L
          USING ERRCODE = '23503', CONSTRAINT = %4$L, TABLE = %3$L, SCHEMA = %1$L,
                DETAIL = format('Key (parent_id)=(%%s) is not present in table "%%s".', NEW.parent_id, %3$L);
      END IF;
      RETURN NULL;
    END $fn$$ddl$, s, q || '_tree_parent', q, q || '_parent_id_fkey');
  EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', q || '_tree_parent', s, q);
  EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OF parent_id ON %I.%I FOR EACH ROW'
    ' WHEN (NEW.parent_id IS NOT NULL) EXECUTE FUNCTION %I.%I()', q || '_tree_parent', s, q, s, q || '_tree_parent');

  -- A stored child result: its parent exists and stays until we commit.
  EXECUTE format($ddl$
    CREATE OR REPLACE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM 1 FROM %1$I.%3$I p WHERE p.id = NEW.parent_id FOR KEY SHARE;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'insert or update on table "%%" violates foreign key constraint "%%"', %5$L, %4$L
          USING ERRCODE = '23503', CONSTRAINT = %4$L, TABLE = %5$L, SCHEMA = %1$L,
                DETAIL = format('Key (parent_id)=(%%s) is not present in table "%%s".', NEW.parent_id, %3$L);
      END IF;
      RETURN NULL;
    END $fn$$ddl$, s, r || '_parent', q, r || '_parent_id_fkey', r);
  EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', r || '_parent', s, r);
  EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OF parent_id ON %I.%I FOR EACH ROW'
    ' EXECUTE FUNCTION %I.%I()', r || '_parent', s, r, s, r || '_parent');

  -- Per DELETE statement: no orphans left behind, and the deleted parents' child results removed.
  EXECUTE format($ddl$
    CREATE OR REPLACE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      orphan record;
    BEGIN
      SELECT c.id, c.parent_id INTO orphan FROM deleted_rows o JOIN %1$I.%3$I c ON c.parent_id = o.id LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION 'update or delete on table "%%" violates foreign key constraint "%%" on table "%%"',
            %3$L, %4$L, %3$L
          USING ERRCODE = '23503', CONSTRAINT = %4$L, TABLE = %3$L, SCHEMA = %1$L,
                DETAIL = format('Key (id)=(%%s) is still referenced from table "%%s" (job %%s).',
                                orphan.parent_id, %3$L, orphan.id);
      END IF;
      DELETE FROM %1$I.%5$I x USING deleted_rows o WHERE x.parent_id = o.id;
      RETURN NULL;
    END $fn$$ddl$, s, q || '_tree_del', q, q || '_parent_id_fkey', r);
  EXECUTE format('DROP TRIGGER IF EXISTS %I ON %I.%I', q || '_tree_del', s, q);
  EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I.%I REFERENCING OLD TABLE AS deleted_rows'
    ' FOR EACH STATEMENT EXECUTE FUNCTION %I.%I()', q || '_tree_del', s, q, s, q || '_tree_del');
END
$create$;

-- _create_queue keeps its version-2 body under another name and gains the tree triggers.
ALTER FUNCTION "{{schema}}"._create_queue(text) RENAME TO _create_queue_v2;

CREATE FUNCTION "{{schema}}"._create_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $create$
DECLARE
  created boolean;
BEGIN
  created := "{{schema}}"._create_queue_v2(q);
  IF created THEN
    PERFORM "{{schema}}"._create_tree_triggers(q);
  END IF;
  RETURN created;
END
$create$;

-- Upgrade queues created under earlier versions.
DO $upgrade$
DECLARE
  q text;
BEGIN
  FOR q IN SELECT name FROM "{{schema}}"._queues ORDER BY name LOOP
    PERFORM "{{schema}}"._create_tree_triggers(q);
  END LOOP;
END
$upgrade$;
