-- Number the items of a model filled by other means than the build (rule test cases, tests,
-- the benchmark) exactly as the build numbers them: work_items.item_no counts items in item_id
-- order from 1, and each dependency carries the numbers of its ends (null for an end that is
-- no item). The built-in rules join dependencies with work_items on these numbers.
UPDATE work_items w SET item_no = n.item_no
FROM (SELECT item_id, row_number() OVER (ORDER BY item_id)::INTEGER AS item_no FROM work_items) n
WHERE w.item_id = n.item_id;
UPDATE dependencies d SET
    upstream_no = (SELECT u.item_no FROM work_items u WHERE u.item_id = d.upstream_id),
    downstream_no = (SELECT w.item_no FROM work_items w WHERE w.item_id = d.downstream_id);
