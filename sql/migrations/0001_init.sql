-- Arbiter schema, version 1.
-- The schema placeholder is replaced by the validated schema name before this file runs.
-- Internal tables start with an underscore; queue names may not, so they never collide.

CREATE TABLE "{{schema}}"._queues (
  name text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  paused boolean NOT NULL DEFAULT false,
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  groups_refreshed_at timestamptz
);

-- Creates the four tables, indexes and triggers of one queue. Idempotent: a second call is a no-op.
-- Table and trigger names come from the queue name through format('%I'), so they are always quoted;
-- the caller validates the name as well (^[a-z][a-z0-9_]{0,47}$).
CREATE FUNCTION "{{schema}}"._create_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $create$
DECLARE
  s constant text := '{{schema}}';
  seq text := q || '_id_seq';
  seqref text := format('%I.%I', '{{schema}}', q || '_id_seq');
  g text := q || '_groups';
  r text := q || '_results';
  d text := q || '_dlq';
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('arbiter:create-queue:' || s || '.' || q, 0));
  IF EXISTS (SELECT 1 FROM "{{schema}}"._queues WHERE name = q) THEN
    RETURN false;
  END IF;

  EXECUTE format('CREATE SEQUENCE %I.%I', s, seq);

  -- The job table. Column meanings:
  --   run_at        earliest time the job may be claimed; while leased it equals the lease expiry, so one
  --                 index range (run_at <= now()) finds every claimable job, including expired leases.
  --   leased_until  set by a claim, cleared by retry/release; a job is in flight iff leased_until > now().
  --   attempts      incremented by each claim; every later write is fenced by it.
  --   priority      lower runs first (smallint, default 0).
  EXECUTE format($ddl$
    CREATE TABLE %1$I.%2$I (
      id bigint PRIMARY KEY DEFAULT nextval(%3$L),
      payload jsonb NOT NULL,
      group_key text,
      priority smallint NOT NULL DEFAULT 0,
      run_at timestamptz NOT NULL DEFAULT now(),
      leased_until timestamptz,
      attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      max_attempts integer NOT NULL DEFAULT 25 CHECK (max_attempts >= 1),
      last_error text,
      dedup_key text,
      idempotency_key text,
      parent_id bigint REFERENCES %1$I.%2$I (id),
      is_rollup boolean NOT NULL DEFAULT false,
      suspended boolean NOT NULL DEFAULT false,
      parent_state jsonb,
      worker_id text,
      meta jsonb,
      claimed_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )$ddl$, s, q, seqref);
  EXECUTE format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.id', s, seq, s, q);

  -- Claim path for ungrouped jobs: one range per priority level, in the order jobs became due.
  EXECUTE format('CREATE INDEX %I ON %I.%I (priority, run_at, id) WHERE group_key IS NULL AND NOT suspended',
    q || '_ready_idx', s, q);
  -- Group heads and group maintenance: (group_key, priority, id) is the FIFO order inside a group.
  EXECUTE format('CREATE INDEX %I ON %I.%I (group_key, priority, id) WHERE group_key IS NOT NULL',
    q || '_group_idx', s, q);
  EXECUTE format('CREATE INDEX %I ON %I.%I (parent_id) WHERE parent_id IS NOT NULL', q || '_parent_idx', s, q);
  EXECUTE format('CREATE UNIQUE INDEX %I ON %I.%I (dedup_key) WHERE dedup_key IS NOT NULL',
    q || '_dedup_idx', s, q);
  EXECUTE format('CREATE UNIQUE INDEX %I ON %I.%I (idempotency_key) WHERE idempotency_key IS NOT NULL',
    q || '_idem_idx', s, q);
  EXECUTE format('CREATE INDEX %I ON %I.%I (leased_until) WHERE leased_until IS NOT NULL',
    q || '_leased_idx', s, q);
  -- A queue table churns: vacuum it early and often so dead tuples stay bounded.
  EXECUTE format('ALTER TABLE %I.%I SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,'
    ' autovacuum_analyze_scale_factor = 0.05, fillfactor = 90)', s, q);

  -- One row per group that has jobs. ready_at is a lower bound of the next time the group may have a
  -- claimable job (NULL: nothing claimable until a trigger says otherwise); the claim repairs it when the
  -- bound was too early. in_flight_until blocks the group while a lease is held or a retry waits.
  EXECUTE format($ddl$
    CREATE TABLE %1$I.%2$I (
      group_key text PRIMARY KEY,
      job_count integer NOT NULL DEFAULT 0,
      min_priority smallint NOT NULL DEFAULT 0,
      min_id bigint,
      in_flight_count integer NOT NULL DEFAULT 0,
      in_flight_until timestamptz,
      ready_at timestamptz
    )$ddl$, s, g);
  EXECUTE format('CREATE INDEX %I ON %I.%I (min_priority, ready_at) WHERE ready_at IS NOT NULL', g || '_ready_idx', s, g);
  EXECUTE format('ALTER TABLE %I.%I SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 500)', s, g);

  -- Child results for rollup finalizers; removed with the parent.
  EXECUTE format($ddl$
    CREATE TABLE %1$I.%2$I (
      parent_id bigint NOT NULL REFERENCES %1$I.%3$I (id) ON DELETE CASCADE,
      child_id bigint NOT NULL,
      result jsonb NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (parent_id, child_id)
    )$ddl$, s, r, q);

  -- Dead letters keep everything needed to retry the job, plus why and when it failed.
  EXECUTE format($ddl$
    CREATE TABLE %1$I.%2$I (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      job_id bigint NOT NULL,
      payload jsonb NOT NULL,
      group_key text,
      priority smallint NOT NULL,
      attempts integer NOT NULL,
      max_attempts integer NOT NULL,
      last_error text,
      dedup_key text,
      idempotency_key text,
      parent_id bigint,
      is_rollup boolean NOT NULL,
      parent_state jsonb,
      meta jsonb,
      created_at timestamptz NOT NULL,
      failed_at timestamptz NOT NULL DEFAULT now()
    )$ddl$, s, d);
  EXECUTE format('CREATE INDEX %I ON %I.%I (failed_at DESC, id DESC)', d || '_failed_idx', s, d);
  EXECUTE format('CREATE INDEX %I ON %I.%I (parent_id) WHERE parent_id IS NOT NULL', d || '_parent_idx', s, d);
  EXECUTE format('CREATE INDEX %I ON %I.%I (job_id)', d || '_job_idx', s, d);

  -- Group maintenance triggers fire only for grouped rows, so ungrouped jobs pay nothing for them.
  EXECUTE format($ddl$
    CREATE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      -- Serialize inserts per group and take the id only once the lock is held: ids inside a group then
      -- follow commit order, so a claimer can never see job n+1 of a group while job n is uncommitted.
      PERFORM pg_advisory_xact_lock(hashtextextended(%3$L || NEW.group_key, 0));
      NEW.id := nextval(%4$L);
      RETURN NEW;
    END $fn$$ddl$, s, q || '_group_lock', 'arbiter:group:' || s || '.' || q || ':', seqref);
  EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %I.%I FOR EACH ROW WHEN (NEW.group_key IS NOT NULL)'
    ' EXECUTE FUNCTION %I.%I()', q || '_group_lock', s, q, s, q || '_group_lock');

  EXECUTE format($ddl$
    CREATE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      INSERT INTO %1$I.%3$I AS g (group_key, job_count, min_priority, min_id, ready_at)
      VALUES (NEW.group_key, 1, NEW.priority, NEW.id, CASE WHEN NEW.suspended THEN NULL ELSE NEW.run_at END)
      ON CONFLICT (group_key) DO UPDATE SET
        job_count = g.job_count + 1,
        min_priority = CASE WHEN g.min_id IS NULL OR (NEW.priority, NEW.id) < (g.min_priority, g.min_id)
                            THEN NEW.priority ELSE g.min_priority END,
        min_id = CASE WHEN g.min_id IS NULL OR (NEW.priority, NEW.id) < (g.min_priority, g.min_id)
                      THEN NEW.id ELSE g.min_id END,
        ready_at = CASE WHEN NEW.suspended THEN g.ready_at
                        ELSE least(g.ready_at, greatest(NEW.run_at, g.in_flight_until)) END;
      RETURN NULL;
    END $fn$$ddl$, s, q || '_group_ins', g);
  EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I.%I FOR EACH ROW WHEN (NEW.group_key IS NOT NULL)'
    ' EXECUTE FUNCTION %I.%I()', q || '_group_ins', s, q, s, q || '_group_ins');

  EXECUTE format($ddl$
    CREATE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      remaining integer;
      head bigint;
    BEGIN
      UPDATE %1$I.%3$I AS g SET
        job_count = g.job_count - 1,
        in_flight_count = greatest(g.in_flight_count - (OLD.leased_until IS NOT NULL)::int, 0),
        in_flight_until = CASE
          WHEN g.in_flight_count - (OLD.leased_until IS NOT NULL)::int > 0 THEN g.in_flight_until
          ELSE NULL END,
        ready_at = CASE
          WHEN g.in_flight_count - (OLD.leased_until IS NOT NULL)::int > 0 THEN g.ready_at
          ELSE least(g.ready_at, now()) END
      WHERE g.group_key = OLD.group_key
      RETURNING g.job_count, g.min_id INTO remaining, head;
      IF remaining IS NULL THEN
        RETURN NULL;
      ELSIF remaining <= 0 THEN
        DELETE FROM %1$I.%3$I WHERE group_key = OLD.group_key AND job_count <= 0;
      ELSIF head = OLD.id THEN
        -- FROM, not a scalar subquery: a multi-row DELETE may already have removed every row of the
        -- group before these per-row triggers run, and then there is no head to record.
        UPDATE %1$I.%3$I AS g SET min_priority = h.priority, min_id = h.id
        FROM (SELECT j.priority, j.id FROM %1$I.%4$I j WHERE j.group_key = OLD.group_key
              ORDER BY j.priority, j.id LIMIT 1) h
        WHERE g.group_key = OLD.group_key;
      END IF;
      RETURN NULL;
    END $fn$$ddl$, s, q || '_group_del', g, q);
  EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I.%I FOR EACH ROW WHEN (OLD.group_key IS NOT NULL)'
    ' EXECUTE FUNCTION %I.%I()', q || '_group_del', s, q, s, q || '_group_del');

  EXECUTE format($ddl$
    CREATE FUNCTION %1$I.%2$I() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      started boolean := OLD.leased_until IS NULL AND NEW.leased_until IS NOT NULL;
      ended boolean := OLD.leased_until IS NOT NULL AND NEW.leased_until IS NULL;
    BEGIN
      IF OLD.group_key IS DISTINCT FROM NEW.group_key THEN
        -- Moving between groups is a delete from one and an insert into the other.
        IF OLD.group_key IS NOT NULL THEN
          UPDATE %1$I.%3$I AS g SET job_count = g.job_count - 1,
            in_flight_count = greatest(g.in_flight_count - (OLD.leased_until IS NOT NULL)::int, 0),
            ready_at = least(g.ready_at, now())
          WHERE g.group_key = OLD.group_key;
          DELETE FROM %1$I.%3$I WHERE group_key = OLD.group_key AND job_count <= 0;
          UPDATE %1$I.%3$I AS g SET min_priority = h.priority, min_id = h.id
          FROM (SELECT j.priority, j.id FROM %1$I.%4$I j WHERE j.group_key = OLD.group_key
                ORDER BY j.priority, j.id LIMIT 1) h
          WHERE g.group_key = OLD.group_key AND g.min_id = OLD.id;
        END IF;
        IF NEW.group_key IS NOT NULL THEN
          INSERT INTO %1$I.%3$I AS g (group_key, job_count, min_priority, min_id, in_flight_count,
                                      in_flight_until, ready_at)
          VALUES (NEW.group_key, 1, NEW.priority, NEW.id, (NEW.leased_until IS NOT NULL)::int, NEW.leased_until,
                  CASE WHEN NEW.suspended THEN NULL ELSE NEW.run_at END)
          ON CONFLICT (group_key) DO UPDATE SET
            job_count = g.job_count + 1,
            in_flight_count = g.in_flight_count + (NEW.leased_until IS NOT NULL)::int,
            in_flight_until = greatest(g.in_flight_until, NEW.leased_until),
            min_priority = CASE WHEN g.min_id IS NULL OR (NEW.priority, NEW.id) < (g.min_priority, g.min_id)
                                THEN NEW.priority ELSE g.min_priority END,
            min_id = CASE WHEN g.min_id IS NULL OR (NEW.priority, NEW.id) < (g.min_priority, g.min_id)
                          THEN NEW.id ELSE g.min_id END,
            ready_at = CASE WHEN NEW.suspended THEN g.ready_at
                            ELSE least(g.ready_at, greatest(NEW.run_at, g.in_flight_until)) END;
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
        -- Not leased before or after: admin changes (promote, suspend, resume, replace, priority).
        UPDATE %1$I.%3$I AS g SET
          in_flight_until = CASE
            WHEN g.in_flight_count > 0 THEN g.in_flight_until
            WHEN NEW.suspended AND NOT OLD.suspended THEN NULL
            WHEN NEW.attempts > 0 AND NEW.run_at < OLD.run_at AND g.in_flight_until > NEW.run_at THEN NEW.run_at
            ELSE g.in_flight_until END,
          ready_at = CASE
            WHEN NEW.suspended AND NOT OLD.suspended THEN least(g.ready_at, now())
            WHEN NOT NEW.suspended THEN least(g.ready_at, greatest(NEW.run_at,
              CASE WHEN g.in_flight_count > 0 THEN g.in_flight_until
                   WHEN NEW.attempts > 0 AND NEW.run_at < OLD.run_at AND g.in_flight_until > NEW.run_at
                     THEN NEW.run_at
                   ELSE g.in_flight_until END))
            ELSE g.ready_at END
        WHERE g.group_key = NEW.group_key;
      END IF;
      IF NEW.priority <> OLD.priority THEN
        UPDATE %1$I.%3$I AS g SET min_priority = h.priority, min_id = h.id
        FROM (SELECT j.priority, j.id FROM %1$I.%4$I j WHERE j.group_key = NEW.group_key
              ORDER BY j.priority, j.id LIMIT 1) h
        WHERE g.group_key = NEW.group_key;
      END IF;
      RETURN NULL;
    END $fn$$ddl$, s, q || '_group_upd', g, q);
  EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I.%I FOR EACH ROW'
    ' WHEN ((OLD.group_key IS NOT NULL OR NEW.group_key IS NOT NULL) AND ('
    'OLD.group_key IS DISTINCT FROM NEW.group_key OR OLD.leased_until IS DISTINCT FROM NEW.leased_until'
    ' OR OLD.run_at <> NEW.run_at OR OLD.suspended <> NEW.suspended OR OLD.priority <> NEW.priority))'
    ' EXECUTE FUNCTION %I.%I()', q || '_group_upd', s, q, s, q || '_group_upd');

  INSERT INTO "{{schema}}"._queues (name) VALUES (q);
  RETURN true;
END
$create$;

-- Drops a queue and everything in it. Returns false when it did not exist.
CREATE FUNCTION "{{schema}}"._drop_queue(q text) RETURNS boolean
LANGUAGE plpgsql AS $drop$
DECLARE
  s constant text := '{{schema}}';
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('arbiter:create-queue:' || s || '.' || q, 0));
  IF NOT EXISTS (SELECT 1 FROM "{{schema}}"._queues WHERE name = q) THEN
    RETURN false;
  END IF;
  EXECUTE format('DROP TABLE %I.%I, %I.%I, %I.%I, %I.%I CASCADE', s, q || '_results', s, q || '_dlq',
    s, q || '_groups', s, q);
  EXECUTE format('DROP FUNCTION %I.%I(), %I.%I(), %I.%I(), %I.%I()', s, q || '_group_lock', s, q || '_group_ins',
    s, q || '_group_del', s, q || '_group_upd');
  DELETE FROM "{{schema}}"._queues WHERE name = q;
  RETURN true;
END
$drop$;
