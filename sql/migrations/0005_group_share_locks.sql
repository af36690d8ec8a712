-- Arbiter schema, version 5: an enqueue no longer holds its group's row against claims, acks and
-- lease extensions until its transaction ends.
-- The schema placeholder is replaced by the validated schema name before this file runs.
--
-- Until now every grouped insert upserted its group row (job_count + 1), which holds that row's lock
-- until the inserting transaction commits. An application that enqueues inside its own transaction and
-- keeps it open therefore stalled every claim that wanted the group, every ack and every lease
-- extension of the group's running job (the worker's batched statements with it), for as long as its
-- transaction lasted.
--
-- From this version:
--   * An insert takes its group row in KEY SHARE mode, which conflicts with nothing a claim, an ack,
--     a retry or a lease extension takes (they update non-key columns: FOR NO KEY UPDATE), and writes
--     the row only when the group had nothing claimable before the new job (its ready_at must come
--     down), or creates it when the group is new. A group that is running or has ready work is never
--     written by an insert.
--   * job_count is no longer kept (an exact count needs a write per insert); the column stays, unused,
--     so this migration takes no table lock per queue. Operator views count jobs on demand.
--   * Whatever recomputes a group from its jobs (settling a group whose ready_at was too early,
--     removing the row of an emptied group, refreshing all groups) first locks the row FOR UPDATE,
--     which waits for, or skips, inserts still in progress, and then reads the jobs with a fresh
--     snapshot, so it sees every insert that has committed.
--   * min_priority / min_id (the group's rank among groups) are recomputed by every delete of a
--     grouped job. An insert (or a priority change) that goes ahead of the head writes them when no
--     job of the group is in flight; while one is, the group keeps its rank until that job's ack.
--     Order inside a group is always exact (the claim reads the head from the job table).
--   * A job due at once gets, under its group's insert lock, a run_at no earlier than the clock, so a job
--     that waited for that lock is never due before the job that held it.

CREATE FUNCTION "{{schema}}"._create_group_triggers(q text) RETURNS void
LANGUAGE plpgsql AS $create$
DECLARE
  s constant text := '{{schema}}';
  g text := q || '_groups';
  -- An operator change or a replace (not leased before or after) can only make the group claimable
  -- sooner: a retry's backoff brought forward, a job resumed, a head suspended (ready_at comes down so
  -- the next claim settles the group).
  until_expr constant text := 'CASE
              WHEN g.in_flight_count > 0 THEN g.in_flight_until
              WHEN NEW.suspended AND NOT OLD.suspended THEN NULL
              WHEN NEW.attempts > 0 AND NEW.run_at < OLD.run_at AND g.in_flight_until > NEW.run_at THEN NEW.run_at
              ELSE g.in_flight_until END';
  ready_expr constant text := 'CASE
              WHEN NEW.suspended AND NOT OLD.suspended THEN least(g.ready_at, now())
              WHEN NOT NEW.suspended THEN least(g.ready_at, greatest(NEW.run_at,
                CASE WHEN g.in_flight_count > 0 THEN g.in_flight_until
                     WHEN NEW.attempts > 0 AND NEW.run_at < OLD.run_at AND g.in_flight_until > NEW.run_at
                       THEN NEW.run_at
                     ELSE g.in_flight_until END))
              ELSE g.ready_at END';
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;

  -- The insert lock (migration 0001) serializes a group's inserts and takes the id under the lock, so
  -- ids follow commit order. An immediate job's run_at must follow that order too: it was the
  -- statement's now(), read before the lock, so a job that waited for the lock could be due earlier
  -- than the job that held it, and a claim whose now() fell between the two took the later job first.
  -- Under the lock, a run_at between the statement's start and the clock is raised to the clock, so for
  -- jobs due at once (not given an explicit earlier time) run_at never goes down as ids go up.
  EXECUTE format($ddl$
    CREATE OR REPLACE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtextextended(%3$L || NEW.group_key, 0));
      NEW.id := nextval(%4$L);
      IF NEW.run_at >= now() AND NEW.run_at < clock_timestamp() THEN
        NEW.run_at := clock_timestamp();
      END IF;
      RETURN NEW;
    END $fn$$ddl$, s, q || '_group_lock', 'arbiter:group:' || s || '.' || q || ':',
                   format('%I.%I', s, q || '_id_seq'));

  -- A job joins its group (an insert, or a replace that moved it between groups).
  EXECUTE format($ddl$
    CREATE OR REPLACE FUNCTION %1$I.%2$I(k text, jid bigint, prio smallint, due timestamptz, susp boolean,
                                         lease timestamptz)
    RETURNS void LANGUAGE plpgsql AS $fn$
    BEGIN
      LOOP
        PERFORM 1 FROM %1$I.%3$I gr WHERE gr.group_key = k FOR KEY SHARE;
        IF FOUND THEN
          -- Written only when the group had nothing claimable before this job (or it arrives leased),
          -- or when the job goes ahead of the group's head while nothing of the group is in flight (so
          -- the group ranks by the new head among groups; while a job runs, its ack recomputes the head).
          UPDATE %1$I.%3$I AS gr SET
            in_flight_count = gr.in_flight_count + (lease IS NOT NULL)::int,
            in_flight_until = greatest(gr.in_flight_until, lease),
            ready_at = CASE WHEN susp THEN gr.ready_at
                            ELSE least(gr.ready_at, greatest(due, gr.in_flight_until, lease)) END,
            min_priority = CASE WHEN gr.min_id IS NULL OR (prio, jid) < (gr.min_priority, gr.min_id)
                                THEN prio ELSE gr.min_priority END,
            min_id = CASE WHEN gr.min_id IS NULL OR (prio, jid) < (gr.min_priority, gr.min_id)
                          THEN jid ELSE gr.min_id END
          WHERE gr.group_key = k
            AND (lease IS NOT NULL
                 OR (NOT susp AND (gr.ready_at IS NULL OR gr.ready_at > greatest(due, gr.in_flight_until)))
                 OR (gr.in_flight_count = 0 AND (gr.min_id IS NULL OR (prio, jid) < (gr.min_priority, gr.min_id))));
          RETURN;
        END IF;
        INSERT INTO %1$I.%3$I AS gr (group_key, job_count, min_priority, min_id, in_flight_count,
                                     in_flight_until, ready_at)
        VALUES (k, 0, prio, jid, (lease IS NOT NULL)::int, lease,
                CASE WHEN susp THEN NULL ELSE greatest(due, lease) END)
        ON CONFLICT (group_key) DO NOTHING;
        IF FOUND THEN
          RETURN;
        END IF;
      END LOOP;
    END $fn$$ddl$, s, q || '_group_join', g);

  -- A job leaves its group (a delete, or a replace that moved it between groups).
  EXECUTE format($ddl$
    CREATE OR REPLACE FUNCTION %1$I.%2$I(k text, jid bigint, leased boolean)
    RETURNS void LANGUAGE plpgsql AS $fn$
    DECLARE
      hp smallint;
      hid bigint;
    BEGIN
      -- The head after this delete (this statement's own deletes included). A multi-row DELETE may have
      -- removed every job of the group before these per-row triggers run: then there is none.
      SELECT j.priority, j.id INTO hp, hid FROM %1$I.%4$I j WHERE j.group_key = k
      ORDER BY j.priority, j.id LIMIT 1;
      UPDATE %1$I.%3$I AS gr SET
        in_flight_count = greatest(gr.in_flight_count - leased::int, 0),
        in_flight_until = CASE WHEN gr.in_flight_count - leased::int > 0 THEN gr.in_flight_until END,
        ready_at = CASE WHEN gr.in_flight_count - leased::int > 0 THEN gr.ready_at
                        ELSE least(gr.ready_at, now()) END,
        min_priority = coalesce(hp, gr.min_priority),
        min_id = coalesce(hid, gr.min_id)
      WHERE gr.group_key = k;
      IF hid IS NOT NULL OR NOT FOUND THEN
        RETURN;
      END IF;
      -- Nothing left that this transaction can see. The row goes, unless an insert still in progress
      -- holds it (its job will need it): FOR UPDATE conflicts with that insert's share lock. Once the
      -- lock is ours, a fresh snapshot sees every insert that committed before.
      PERFORM 1 FROM %1$I.%3$I gr WHERE gr.group_key = k FOR UPDATE SKIP LOCKED;
      IF FOUND THEN
        DELETE FROM %1$I.%3$I gr WHERE gr.group_key = k AND gr.in_flight_count = 0
          AND NOT EXISTS (SELECT 1 FROM %1$I.%4$I j WHERE j.group_key = k);
      END IF;
    END $fn$$ddl$, s, q || '_group_leave', g, q);

  EXECUTE format($ddl$
    CREATE OR REPLACE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM %1$I.%3$I(NEW.group_key, NEW.id, NEW.priority, NEW.run_at, NEW.suspended, NULL);
      RETURN NULL;
    END $fn$$ddl$, s, q || '_group_ins', q || '_group_join');

  EXECUTE format($ddl$
    CREATE OR REPLACE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM %1$I.%3$I(OLD.group_key, OLD.id, OLD.leased_until IS NOT NULL);
      RETURN NULL;
    END $fn$$ddl$, s, q || '_group_del', q || '_group_leave');

  EXECUTE format($ddl$
    CREATE OR REPLACE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      started boolean := OLD.leased_until IS NULL AND NEW.leased_until IS NOT NULL;
      ended boolean := OLD.leased_until IS NOT NULL AND NEW.leased_until IS NULL;
    BEGIN
      IF OLD.group_key IS DISTINCT FROM NEW.group_key THEN
        -- Moving between groups is leaving one and joining the other.
        IF OLD.group_key IS NOT NULL THEN
          PERFORM %1$I.%4$I(OLD.group_key, OLD.id, OLD.leased_until IS NOT NULL);
        END IF;
        IF NEW.group_key IS NOT NULL THEN
          PERFORM %1$I.%5$I(NEW.group_key, NEW.id, NEW.priority, NEW.run_at, NEW.suspended, NEW.leased_until);
        END IF;
        RETURN NULL;
      END IF;

      IF NEW.leased_until IS NOT NULL THEN
        -- Claimed, re-claimed after expiry, or lease extended: the group is busy until the lease ends.
        UPDATE %1$I.%3$I AS g SET
          in_flight_count = g.in_flight_count + started::int,
          in_flight_until = CASE WHEN g.in_flight_count + started::int <= 1 THEN NEW.leased_until
                                 ELSE greatest(g.in_flight_until, NEW.leased_until) END,
          ready_at = CASE WHEN g.in_flight_count + started::int <= 1 THEN NEW.leased_until
                          ELSE greatest(g.in_flight_until, NEW.leased_until) END
        WHERE g.group_key = NEW.group_key;
      ELSIF ended THEN
        -- Released: a retry waiting for its backoff keeps the group blocked (FIFO survives failures);
        -- a release for immediate re-run, or a parent now waiting for children, frees the group.
        UPDATE %1$I.%3$I AS g SET
          in_flight_count = greatest(g.in_flight_count - 1, 0),
          in_flight_until = CASE
            WHEN g.in_flight_count - 1 > 0 THEN g.in_flight_until
            WHEN NOT NEW.suspended AND NEW.attempts > 0 AND NEW.run_at > now() THEN NEW.run_at
            ELSE NULL END,
          ready_at = CASE
            WHEN g.in_flight_count - 1 > 0 THEN g.ready_at
            WHEN NOT NEW.suspended AND NEW.attempts > 0 AND NEW.run_at > now() THEN NEW.run_at
            ELSE now() END
        WHERE g.group_key = NEW.group_key;
      ELSE
        -- Not leased before or after: operator changes (promote, suspend, resume, priority) and replace
        -- dedup, often inside an application's transaction. They only ever make the group claimable
        -- sooner, so the row is written only when its values change, and otherwise held in share mode
        -- (against settling or removal until this transaction ends, as an insert holds it).
        -- The new values are written out twice, in SET and in WHERE: both must read the row's latest
        -- version, which a concurrent claim or ack may have changed since this statement's snapshot.
        PERFORM 1 FROM %1$I.%3$I g WHERE g.group_key = NEW.group_key FOR KEY SHARE;
        UPDATE %1$I.%3$I AS g SET in_flight_until = %6$s, ready_at = %7$s
        WHERE g.group_key = NEW.group_key
          AND (g.in_flight_until, g.ready_at) IS DISTINCT FROM (%6$s, %7$s);
        -- A new priority re-ranks the group by its head, unless a job of it is in flight (its ack will).
        IF NEW.priority <> OLD.priority THEN
          UPDATE %1$I.%3$I AS g SET min_priority = h.priority, min_id = h.id
          FROM (SELECT j.priority, j.id FROM %1$I.%8$I j WHERE j.group_key = NEW.group_key
                ORDER BY j.priority, j.id LIMIT 1) h
          WHERE g.group_key = NEW.group_key AND g.in_flight_count = 0
            AND (g.min_priority, g.min_id) IS DISTINCT FROM (h.priority, h.id);
        END IF;
      END IF;
      RETURN NULL;
    END $fn$$ddl$, s, q || '_group_upd', g, q || '_group_leave', q || '_group_join', until_expr, ready_expr, q);
END
$create$;

-- Recomputes groups from their jobs. Each row is locked FOR UPDATE first (which an insert or replace in
-- progress holds off with its share lock), and the jobs are then read with a fresh snapshot, so every
-- job committed before the lock is seen, and no job can appear unseen before this transaction ends.
--   settle  (whole = false): ready_at and the head only, and removal of an empty row. Claims call it
--           for a group they found without a runnable head.
--   refresh (whole = true):  every column, including the lease counters; a row is created for a group
--           that has jobs but none. Operators and the maintenance leader call it to correct drift.
-- A row someone else holds is skipped (it never waits, so it can never deadlock): whoever holds it is
-- updating it.
-- Returns false, always: a claim calls it from a WHERE clause that must yield no row.
CREATE FUNCTION "{{schema}}"._group_settle(q text, k text, whole boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  s constant text := '{{schema}}';
  g text := q || '_groups';
  n integer;
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  IF whole THEN
    EXECUTE format('INSERT INTO %I.%I (group_key, job_count, ready_at) SELECT $1, 0, NULL'
                   ' WHERE EXISTS (SELECT 1 FROM %I.%I j WHERE j.group_key = $1) ON CONFLICT DO NOTHING',
                   s, g, s, q) USING k;
  END IF;
  EXECUTE format('SELECT 1 FROM %I.%I WHERE group_key = $1 FOR UPDATE SKIP LOCKED', s, g) USING k;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    RETURN false;
  END IF;
  IF whole THEN
    -- The lease counters, as the triggers define them: rows holding a lease (set even if expired: the
    -- claim clears it); the latest lease, or else the backoff end of the group's first attempted job
    -- when it waits for a retry (FIFO survives failures).
    EXECUTE format($q$
      UPDATE %1$I.%2$I g SET in_flight_count = c.n,
        in_flight_until = CASE WHEN c.n > 0 THEN c.last_lease
                               WHEN NOT f.suspended AND f.leased_until IS NULL AND f.run_at > now() THEN f.run_at END
      FROM (SELECT count(*) FILTER (WHERE j.leased_until IS NOT NULL)::int AS n, max(j.leased_until) AS last_lease
            FROM %1$I.%3$I j WHERE j.group_key = $1) c
      LEFT JOIN LATERAL (SELECT j.suspended, j.leased_until, j.run_at FROM %1$I.%3$I j
                         WHERE j.group_key = $1 AND j.attempts > 0 ORDER BY j.id LIMIT 1) f ON true
      WHERE g.group_key = $1 $q$, s, g, q) USING k;
  END IF;
  EXECUTE format($q$
    UPDATE %1$I.%2$I g SET
      ready_at = (SELECT min(greatest(j.run_at, g.in_flight_until)) FROM %1$I.%3$I j
                  WHERE j.group_key = g.group_key AND NOT j.suspended AND j.attempts < j.max_attempts),
      min_priority = coalesce(h.priority, g.min_priority),
      min_id = coalesce(h.id, g.min_id)
    FROM (SELECT $1::text AS k) a
    LEFT JOIN LATERAL (SELECT j.priority, j.id FROM %1$I.%3$I j WHERE j.group_key = $1
                       ORDER BY j.priority, j.id LIMIT 1) h ON true
    WHERE g.group_key = a.k $q$, s, g, q) USING k;
  EXECUTE format('DELETE FROM %I.%I g WHERE g.group_key = $1 AND g.in_flight_count = 0'
                 ' AND NOT EXISTS (SELECT 1 FROM %I.%I j WHERE j.group_key = $1)', s, g, s, q) USING k;
  RETURN false;
END
$fn$;

-- _create_queue keeps its version-3 body under another name and gains the new group triggers.
ALTER FUNCTION "{{schema}}"._create_queue(text) RENAME TO _create_queue_v3;

CREATE FUNCTION "{{schema}}"._create_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $create$
DECLARE
  created boolean;
BEGIN
  created := "{{schema}}"._create_queue_v3(q);
  IF created THEN
    PERFORM "{{schema}}"._create_group_triggers(q);
  END IF;
  RETURN created;
END
$create$;

-- _drop_queue drops the two new functions too.
ALTER FUNCTION "{{schema}}"._drop_queue(text) RENAME TO _drop_queue_v2;

CREATE FUNCTION "{{schema}}"._drop_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $drop$
DECLARE
  dropped boolean;
BEGIN
  dropped := "{{schema}}"._drop_queue_v2(q);
  IF dropped THEN
    EXECUTE format('DROP FUNCTION IF EXISTS %I.%I(text, bigint, smallint, timestamptz, boolean, timestamptz),'
                   ' %I.%I(text, bigint, boolean)',
                   '{{schema}}', q || '_group_join', '{{schema}}', q || '_group_leave');
  END IF;
  RETURN dropped;
END
$drop$;

-- Upgrade existing queues. Replacing a function takes no table lock.
DO $upgrade$
DECLARE
  q text;
BEGIN
  FOR q IN SELECT name FROM "{{schema}}"._queues ORDER BY name LOOP
    PERFORM "{{schema}}"._create_group_triggers(q);
  END LOOP;
END
$upgrade$;
