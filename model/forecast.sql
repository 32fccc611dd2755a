-- Forecast finish of every open item along its upstream chain, set-based and cycle-safe.
-- Parameters: $now (run time, naive UTC) and $cycle_days (the typical cycle time in days).
-- Read by model/forecast.py for every build and by the rule harness after a case's rows.
-- The recursion runs on integer keys (an open item's position `k`): its joins, keyed table and
-- cycle check cost about a third of the same on item id strings; the chains are turned back
-- into item ids once, at the end. `k` follows the item ids, so upstreams that
-- push equally are told apart by id (the smaller wins) and every run picks the same chain.
DELETE FROM forecasts;
INSERT INTO forecasts
WITH RECURSIVE
open_items AS (
    SELECT row_number() OVER (ORDER BY item_id) AS k, item_id, due_date, start_date,
           -- an item idle for the typical cycle time is stalled: it restarts from today
           coalesce(coalesce(status_changed_at, created_at)
                    <= $now - to_days(CAST($cycle_days AS INTEGER)), false) AS is_stalled,
           coalesce(date_diff('day', start_date, due_date), 0) AS duration
    FROM work_items
    WHERE NOT is_deleted AND coalesce(status_category, 'todo') <> 'done'
),
own AS MATERIALIZED (
    SELECT k, item_id, due_date, is_stalled, greatest(duration, 0) AS duration,
           CASE WHEN is_stalled
                THEN greatest(due_date, CAST($now AS DATE) + to_days(CAST($cycle_days AS INTEGER)))
                WHEN due_date IS NOT NULL THEN greatest(due_date, CAST($now AS DATE)) END
               AS own_finish
    FROM open_items
),
edges AS MATERIALIZED (  -- downstream waits on upstream: blocking dependencies and roll-ups to a milestone
    -- (a pair declared both ways appears twice: harmless, every use takes a maximum)
    SELECT u.k AS upstream_k, w.k AS downstream_k, u.own_finish AS upstream_own,
           w.own_finish AS downstream_own, to_days(CAST(w.duration AS INTEGER)) AS duration
    FROM (
        SELECT d.upstream_id, d.downstream_id FROM dependencies d
        WHERE d.kind <> 'relates' AND d.is_resolved AND d.upstream_id <> d.downstream_id
        UNION ALL
        SELECT w.item_id, w.milestone_id FROM work_items w
        WHERE w.milestone_id IS NOT NULL AND w.milestone_id <> w.item_id
    ) e
    JOIN own u ON u.item_id = e.upstream_id
    JOIN own w ON w.item_id = e.downstream_id
),
-- the first push along every edge, from each upstream's own finish: only what it moves recurses
first_push AS (
    SELECT downstream_k AS k, max(upstream_own + duration) AS finish,
           arg_max(upstream_k, (upstream_own + duration, -upstream_k)) AS critical,
           any_value(downstream_own) AS own_finish
    FROM edges
    WHERE upstream_own + duration > coalesce(downstream_own, DATE '0001-01-01')  -- pushes it
    GROUP BY downstream_k
),
fc(k, finish, critical, chain) USING KEY (k) AS (
    SELECT k, finish, critical, [critical, k] FROM first_push
    UNION
    -- relax: each round, items whose upstream forecast moved take the latest candidate; an
    -- upstream that never moved already counted in the first push
    SELECT cand.k, cand.finish, cand.critical, cand.chain FROM (
        SELECT e.downstream_k AS k,
               max(u.finish + e.duration) AS finish,
               arg_max(u.k, (u.finish + e.duration, -u.k)) AS critical,
               list_append(arg_max(u.chain, (u.finish + e.duration, -u.k)), e.downstream_k) AS chain,
               any_value(e.downstream_own) AS own_finish
        FROM fc u
        JOIN edges e ON e.upstream_k = u.k
        WHERE NOT list_contains(u.chain, e.downstream_k)  -- a cycle never feeds itself
          AND len(u.chain) < 1000
          AND u.finish + e.duration > coalesce(e.downstream_own, DATE '0001-01-01')
        GROUP BY e.downstream_k
    ) cand
    LEFT JOIN recurring.fc r USING (k)
    WHERE cand.finish > coalesce(r.finish, cand.own_finish, DATE '0001-01-01')
),
ids AS (SELECT list(item_id ORDER BY k) AS ids FROM own),  -- ids[k] is the item at k
named AS (
    SELECT fc.k, fc.finish, ids[fc.critical] AS critical,
           list_transform(fc.chain, lambda c: ids[c]) AS chain
    FROM fc CROSS JOIN ids
)
SELECT o.item_id, o.due_date, o.own_finish, coalesce(fc.finish, o.own_finish),
       date_diff('day', o.due_date, coalesce(fc.finish, o.own_finish)), fc.critical,
       coalesce(fc.chain, [o.item_id]), o.is_stalled
FROM own o LEFT JOIN named fc USING (k)
WHERE coalesce(fc.finish, o.own_finish) IS NOT NULL;
