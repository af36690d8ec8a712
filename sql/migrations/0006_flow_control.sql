-- Arbiter schema, version 6: flow control enforced inside the claim.
-- The schema placeholder is replaced by the validated schema name before this file runs.
--
-- One schema-wide table holds every queue's limits; a queue without a row has none, and its claims never
-- read this table (workers cache which queues have a row, refreshed each second).
--   max_in_flight  at most this many jobs of the queue hold a lease at once, across every worker and host.
--                  A job counts from its claim until its lease is released (ack, retry, snooze, dead
--                  letter) or it is claimed again after expiry: a killed worker's jobs count until then.
--   rate_per_sec, burst, cost
--                  a token bucket: `burst` tokens at most, refilled at `rate_per_sec` tokens a second;
--                  each claimed job takes `cost` tokens.
--   tokens, tokens_at
--                  the bucket's content at tokens_at (the clock of the last claim that read it).
--
-- A claim on a queue with limits first calls _flow_admit, in the claim statement itself: it locks the
-- queue's row (so limited claims of one queue take turns, whatever process or host they come from), and
-- then, with a snapshot taken after the lock (a volatile function's statements each take a new one),
-- counts the leases held and refills the bucket. Every claim that took the lock before has committed by
-- then, so the count is exact. The claim then takes at most the number admitted, and the bucket is
-- charged for what it took before the transaction commits and lets the next claim in.

CREATE TABLE "{{schema}}"._flow_limits (
  -- No foreign key to _queues (the schema has none: see migration 0003); dropping a queue through the
  -- library deletes its row here.
  queue text PRIMARY KEY,
  max_in_flight integer CHECK (max_in_flight >= 1),
  rate_per_sec double precision CHECK (rate_per_sec > 0 AND rate_per_sec <= 1e6),
  burst double precision CHECK (burst > 0 AND burst <= 1e9),
  cost double precision NOT NULL DEFAULT 1 CHECK (cost > 0 AND cost <= 1e9),
  tokens double precision,
  tokens_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((rate_per_sec IS NULL) = (burst IS NULL)),
  CHECK (rate_per_sec IS NULL OR burst >= cost)
);

-- Admits up to `want` jobs of queue q for a claim in the calling transaction. Locks the queue's limits
-- row until that transaction ends. Returns how many jobs the claim may take (want when q has no
-- limits), the leases held and the cap, and, when the bucket is what held the claim back, in how many
-- ms the next job's tokens are there. The tokens for `allowed` jobs are taken; the claim gives back
-- what it did not take (_flow_refund) before committing.
CREATE FUNCTION "{{schema}}"._flow_admit(q text, want integer)
RETURNS TABLE (allowed integer, in_flight integer, max_in_flight integer, tokens double precision,
               token_wait_ms double precision)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  s constant text := '{{schema}}';
  l "{{schema}}"._flow_limits%ROWTYPE;
  n integer := 0;
  t double precision;
  allow integer := want;
  wait double precision;
  at timestamptz := clock_timestamp();
BEGIN
  IF q !~ '^[a-z][a-z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'invalid queue name: %', q USING ERRCODE = '22023';
  END IF;
  SELECT * INTO l FROM "{{schema}}"._flow_limits f WHERE f.queue = q FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT want, NULL::integer, NULL::integer, NULL::double precision, NULL::double precision;
    RETURN;
  END IF;
  at := clock_timestamp();
  IF l.max_in_flight IS NOT NULL THEN
    EXECUTE format('SELECT count(*)::int FROM %I.%I WHERE leased_until IS NOT NULL', s, q) INTO n;
    allow := least(allow, greatest(l.max_in_flight - n, 0));
  END IF;
  IF l.rate_per_sec IS NOT NULL THEN
    t := least(l.burst, coalesce(l.tokens, l.burst)
                        + l.rate_per_sec * greatest(extract(epoch FROM at - coalesce(l.tokens_at, at)), 0));
    IF floor(t / l.cost) < allow THEN
      allow := greatest(floor(t / l.cost)::integer, 0);
      wait := greatest((l.cost * (allow + 1) - t) / l.rate_per_sec * 1000, 1);
    END IF;
    UPDATE "{{schema}}"._flow_limits f SET tokens = t - allow * l.cost, tokens_at = at WHERE f.queue = q;
    t := t - allow * l.cost;
  END IF;
  RETURN QUERY SELECT allow, CASE WHEN l.max_in_flight IS NOT NULL THEN n END, l.max_in_flight, t, wait;
END
$fn$;

-- Gives back the tokens of `unused` jobs admitted but not claimed (capped at the burst).
CREATE FUNCTION "{{schema}}"._flow_refund(q text, unused integer) RETURNS void
LANGUAGE sql VOLATILE AS $fn$
  UPDATE "{{schema}}"._flow_limits f SET tokens = least(f.burst, f.tokens + unused * f.cost)
  WHERE f.queue = q AND f.rate_per_sec IS NOT NULL AND unused > 0;
$fn$;
